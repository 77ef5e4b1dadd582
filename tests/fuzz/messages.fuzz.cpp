// Fuzz target: the decoding of every actor message type.
//
// Input: the portable name of an announced type (e.g. `agora.accept`), a NUL
// byte, then the bytes to decode as that type with CAF's
// `binary_deserializer`, as a remote message's payload is decoded (every
// type `protocol::announce` and the agent's `announce` register, and the
// vectors of them CAF registers alongside). What
// decodes must encode again, and decode from that to the same bytes and
// the same printed form.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "agora/agent/agent_actor.hpp"
#include "agora/protocol/announce.hpp"

namespace {

struct world {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  world() {
    agora::protocol::announce(cfg);
    agora::agent::announce(cfg);
    // A small system: the fuzzer calls no actor.
    cfg.set("scheduler.max-threads", 1);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

world& the_world() {
  // Never destroyed: CAF's own statics may be gone at exit.
  static world* w = new world;
  return *w;
}

[[noreturn]] void fail(const char* what, const std::string& name) {
  std::fprintf(stderr, "messages fuzz: %s: %s\n", what, name.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& w = the_world();
  std::string input(reinterpret_cast<const char*>(data), size);
  auto nul = input.find('\0');
  if (nul == std::string::npos) return 0;
  std::string name = input.substr(0, nul);
  // Agora's types (and CAF's vectors of them); CAF's own built-in types
  // are CAF's to fuzz.
  if (name.find("agora.") == std::string::npos || w.cfg.value_factories_by_name.count(name) == 0)
    return 0;
  auto value = w.sys->types().make_value(name);
  if (!value) fail("announced but not constructible", name);
  caf::binary_deserializer source{*w.sys, input.data() + nul + 1, size - nul - 1};
  if (value->load(source)) return 0;
  auto printed = value->stringify();
  std::vector<char> once;
  caf::binary_serializer sink{*w.sys, once};
  if (value->save(sink)) fail("a decoded value does not encode", name);
  auto again = w.sys->types().make_value(name);
  caf::binary_deserializer reread{*w.sys, once};
  if (again->load(reread) || reread.remaining() != 0)
    fail("an encoded value does not decode", name);
  std::vector<char> twice;
  caf::binary_serializer resink{*w.sys, twice};
  if (again->save(resink) || twice != once) fail("encoding is not stable", name);
  if (again->stringify() != printed) fail("the printed form changes through encoding", name);
  return 0;
}
