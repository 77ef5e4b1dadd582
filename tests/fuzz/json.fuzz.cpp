// Fuzz target: the JSON documents Agora's processes read from others.
//
// Input: one selector byte, then the document:
//   0  the master registry (ZooKeeper `<root>/registry`, read by every new
//      leader): `registry::from_json`, and what parses must survive
//      `to_json` -> `from_json` unchanged;
//   1  a master's published info (its ZooKeeper member znode, read by agents,
//      drivers and the CLI): `master_info::from_json`, same round trip;
//   2  an `agora policy sim` cluster document (`parse_cluster`);
//   3  an `agora policy sim` trace, JSON lines (`parse_trace`), checked
//      against a small cluster (`check_events`);
//   4  an `agora policy sim` synthetic workload (`parse_synthetic`), whose
//      events are generated for a short virtual time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agora/discovery/master_info.hpp"
#include "agora/main/sim_input.hpp"
#include "agora/master/registry.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& text) {
  std::fprintf(stderr, "json fuzz: %s:\n%s\n", what, text.c_str());
  std::abort();
}

void registry_doc(const std::string& text) {
  agora::master::registry r;
  std::string error;
  if (!agora::master::registry::from_json(text, r, error)) return;
  auto once = r.to_json();
  agora::master::registry again;
  if (!agora::master::registry::from_json(once, again, error)) fail("to_json does not parse", once);
  if (again.to_json() != once) fail("registry round trip changes the document", once);
}

void master_info_doc(const std::string& text) {
  agora::discovery::master_info m;
  std::string error;
  if (!agora::discovery::master_info::from_json(text, m, error)) return;
  auto once = m.to_json();
  agora::discovery::master_info again;
  if (!agora::discovery::master_info::from_json(once, again, error))
    fail("to_json does not parse", once);
  if (again.to_json() != once) fail("master_info round trip changes the document", once);
}

void sim_docs(uint8_t kind, const std::string& text) {
  namespace sim = agora::main::sim;
  std::string error;
  sim::cluster_def cluster;
  std::string small = R"({"racks": 1, "agents_per_rack": 2, "agent": {"cpus": 4, "mem": "8GiB"}})";
  switch (kind) {
    case 2:
      (void)sim::parse_cluster("fuzz.json", text, cluster, error);
      break;
    case 3: {
      std::vector<sim::input_event> events;
      if (sim::parse_trace("fuzz.jsonl", text, events, error) &&
          sim::parse_cluster("small.json", small, cluster, error))
        (void)sim::check_events(cluster, events, sim::millis{60000}, error);
      break;
    }
    default: {
      sim::workload_def w;
      std::vector<sim::input_event> events;
      if (sim::parse_synthetic("fuzz.json", text, w, error))
        (void)sim::generate_workload(w, sim::millis{10000}, 7, events, error);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      registry_doc(text);
      break;
    case 1:
      master_info_doc(text);
      break;
    default:
      sim_docs(data[0] % 5, text);
      break;
  }
  return 0;
}
