# Thin wrapper around CMake/CTest. `make run` and `make test` work on a fresh
# Debian 12 machine as root: they install missing packages first.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

# The hostile-input build (docs/hostile-input.md): clang, ASan + UBSan on
# everything and libFuzzer coverage, in its own folder so `make test` is
# unaffected. Its binaries run under scripts/sanitizer-env.sh's options.
ASAN_DIR ?= build-asan
ASAN_CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 25

.PHONY: all deps configure build run test bench clean format build-sanitize test-sanitize fuzz-short

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# A master and 3 agents on 2 racks in one process, plus the demo framework
# running a steady trickle of short tasks. UI/state on http://127.0.0.1:5050.
run: build
	@exec $(BUILD_DIR)/bin/agora local --agents 3 --racks 2 --demo

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

build-sanitize: deps
	@cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
	    -DAGORA_SANITIZE=ON -DAGORA_FUZZ=ON $(ASAN_CMAKE_FLAGS)
	@scripts/sanitizer-env.sh cmake --build $(ASAN_DIR) -j $(JOBS)

# Every test under ASan + UBSan; the daemons the tests start inherit the
# options through the environment, and a report from any process fails it.
test-sanitize: build-sanitize
	@scripts/test-sanitize.sh $(ASAN_DIR) -j $(JOBS) --timeout 900

# Each fuzz target for FUZZ_SECONDS on its corpus (longer runs: docs/hostile-input.md).
fuzz-short: build-sanitize
	@scripts/fuzz.sh -b $(ASAN_DIR) -t $(FUZZ_SECONDS)

bench: build
	@$(BUILD_DIR)/bin/agora-bench

clean:
	@rm -rf $(BUILD_DIR) $(ASAN_DIR)

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
