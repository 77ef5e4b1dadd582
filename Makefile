# Thin wrapper around CMake/CTest. `make run` and `make test` work on a fresh
# Debian 12 machine as root: they install missing packages first.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test bench clean format

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

bench: build
	@$(BUILD_DIR)/bin/agora-bench

clean:
	@rm -rf $(BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
