// Fuzz target: command-line flags and the value parsers behind them.
//
// Input: one selector byte, then arguments separated by NUL bytes:
//   0  agora-master's flags (`add_master_flags`, then `check_master_flags`);
//      `--policy`, `--schema` and `--record-trace` are dropped, so the
//      fuzzer never reads or writes files;
//   1  a parser with one flag of every kind (string, integer, port, number,
//      boolean, duration, custom), then `usage()`;
//   2  each argument as resources (`--resources`), whose text form must
//      parse back to the same resources;
//   3  each argument as a duration, `HOST:PORT`, a `--master` value, a byte
//      amount and a role name.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agora/cli/flags.hpp"
#include "agora/discovery/master_info.hpp"
#include "agora/main/master_runtime.hpp"
#include "agora/protocol/resources.hpp"
#include "agora/protocol/roles.hpp"

namespace {

using namespace agora;

[[noreturn]] void fail(const char* what, const std::string& text) {
  std::fprintf(stderr, "flags fuzz: %s: '%s'\n", what, text.c_str());
  std::abort();
}

bool touches_files(const std::string& arg) {
  for (const char* flag : {"--policy", "--schema", "--record-trace"})
    if (arg.rfind(flag, 0) == 0) return true;
  return false;
}

void master_flags(std::vector<std::string> args) {
  std::vector<std::string> kept;
  for (auto& a : args)
    if (!touches_files(a)) kept.push_back(std::move(a));
  main::master_options o;
  cli::flags f{"agora-master", ""};
  main::add_master_flags(f, o);
  std::string error;
  if (f.parse(kept, error)) (void)main::check_master_flags(o, !o.zk.empty());
}

void every_kind(const std::vector<std::string>& args) {
  std::string s = "x";
  int64_t i = 1;
  uint16_t port = 5050;
  double d = 0.5;
  bool b = false;
  std::chrono::milliseconds ms{1000};
  cli::flags f{"fuzz", "every kind of flag"};
  f.add("name", &s, "a string");
  f.add("count", &i, "an integer");
  f.add("port", &port, "a port");
  f.add("ratio", &d, "a number");
  f.add("verbose", &b, "a boolean");
  f.add("interval", &ms, "a duration");
  f.add_custom("resources", "", "resources", [](const std::string& v, std::string& err) {
    protocol::resources r;
    return protocol::resources::parse(v, r, err);
  });
  std::string error;
  (void)f.parse(args, error);
  (void)f.usage();
  (void)f.given("count");
}

void resources(const std::vector<std::string>& args) {
  for (auto& a : args) {
    protocol::resources r;
    std::string error;
    if (!protocol::resources::parse(a, r, error)) continue;
    auto text = r.to_string();
    protocol::resources again;
    if (!protocol::resources::parse(text, again, error)) fail("to_string does not parse", text);
    if (!(again == r)) fail("resources change through their text form", a);
    (void)r.limit_error();
  }
}

void values(const std::vector<std::string>& args) {
  for (auto& a : args) {
    std::string error, host;
    std::chrono::milliseconds ms{};
    uint16_t port = 0;
    int64_t bytes = 0;
    (void)cli::parse_duration(a, ms, error);
    (void)cli::parse_host_port(a, host, port, error);
    (void)discovery::check_master_spec(a, error);
    (void)discovery::is_zk_url(a);
    if (protocol::parse_bytes(a, bytes, error)) (void)protocol::format_bytes(bytes);
    (void)protocol::role_error(a);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<std::string> args;
  std::string current;
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(std::move(current));
      current.clear();
    } else {
      current += static_cast<char>(data[i]);
    }
  }
  args.push_back(std::move(current));
  switch (data[0] % 4) {
    case 0:
      master_flags(std::move(args));
      break;
    case 1:
      every_kind(args);
      break;
    case 2:
      resources(args);
      break;
    default:
      values(args);
      break;
  }
  return 0;
}
