// Fuzz target: the policy language front and back end on hostile text.
//
// Input: policy text, optionally followed by a NUL byte and schema text.
// The policy is parsed; whatever parses is formatted, and the formatted
// text must parse again and format to itself (the `agora policy fmt`
// round trip). The policy is then checked and compiled against the schema
// (`load_policy_text`, what `POST /policy` and `agora-master --policy` run),
// and every diagnostic and the program's disassembly are rendered.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "agora/policy/bytecode.hpp"
#include "agora/policy/diagnostic.hpp"
#include "agora/policy/formatter.hpp"
#include "agora/policy/parser.hpp"
#include "agora/policy/policy_outline.hpp"

namespace {

using namespace agora::policy;

[[noreturn]] void fail(const char* what, const std::string& text) {
  std::fprintf(stderr, "policy fuzz: %s:\n%s\n", what, text.c_str());
  std::abort();
}

void round_trip(const std::string& text) {
  source_file source("fuzz.policy", text);
  auto parsed = parse(source);
  for (auto& d : parsed.diagnostics) (void)render(d);
  if (!parsed.file) {
    if (parsed.diagnostics.empty()) fail("no diagnostic for text that does not parse", text);
    return;
  }
  auto once = format(*parsed.file, source);
  source_file again("fuzz.policy", once);
  auto reparsed = parse(again);
  if (!reparsed.file) fail("formatted text does not parse", once);
  if (format(*reparsed.file, again) != once) fail("formatting is not stable", once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto nul = input.find('\0');
  std::string text = input.substr(0, nul);
  std::string schema = nul == std::string::npos ? std::string() : input.substr(nul + 1);
  round_trip(text);
  // Imports resolve beside the name: a folder that does not exist, so the
  // fuzzer never reads the file system.
  auto loaded = load_policy_text("/nonexistent-agora-fuzz/fuzz.policy", text, schema);
  (void)loaded.render_errors();
  if (loaded.ok()) (void)disassemble(*loaded.prog);
  return 0;
}
