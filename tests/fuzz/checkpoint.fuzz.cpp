// Fuzz target: the agent's checkpoint files (`<work_dir>/meta`), which a
// restarted agent reads back (`--recover`).
//
// Input: one selector byte, then:
//   even  a whole checkpoint file: `decode_checkpoint` (header, version,
//         size, checksum), then its payload decoded as the agent's and as a
//         task's checkpoint;
//   odd   a payload alone (past the checksum, which the fuzzer rarely gets
//         right), decoded as the agent's checkpoint (selector & 2 == 0) or
//         a task's.
// Decoding is CAF's `binary_deserializer` into the checkpoint structs, as in
// checkpoint.cpp; what decodes must re-encode to a file that decodes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "agora/agent/checkpoint.hpp"

namespace {

using namespace agora::agent;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "checkpoint fuzz: %s\n", what);
  std::abort();
}

// As `deserialize` in checkpoint.cpp: all bytes consumed.
template <class T>
bool decode(const std::string& bytes, T& out) {
  caf::binary_deserializer source{nullptr, bytes.data(), bytes.size()};
  return !source(out) && source.remaining() == 0;
}

template <class T>
void payload(const std::string& bytes) {
  T value;
  if (!decode(bytes, value)) return;
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  if (sink(value)) fail("a decoded checkpoint does not encode");
  std::string file = encode_checkpoint(std::string(buf.begin(), buf.end()));
  std::string back, error;
  if (!decode_checkpoint(file, back, error)) fail("an encoded checkpoint file does not decode");
  T again;
  if (!decode(back, again)) fail("an encoded checkpoint does not decode");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    std::string body, error;
    if (!decode_checkpoint(bytes, body, error)) {
      if (error.empty()) fail("a refused file has no reason");
      return 0;
    }
    payload<agent_checkpoint>(body);
    payload<task_checkpoint>(body);
  } else if (data[0] & 2) {
    payload<task_checkpoint>(bytes);
  } else {
    payload<agent_checkpoint>(bytes);
  }
  return 0;
}
