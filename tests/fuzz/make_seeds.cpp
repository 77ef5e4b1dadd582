// Writes the binary seed inputs of the `messages` and `checkpoint` fuzz
// targets, and the `json` target's registry and master-info seeds, into
// tests/fuzz/corpus/ (run from the repository root after a message type or
// a checkpoint struct changes):
//   cmake --build build --target agora-fuzz-seeds && build/bin/agora-fuzz-seeds tests/fuzz/corpus
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_serializer.hpp>

#include "agora/agent/agent_actor.hpp"
#include "agora/agent/checkpoint.hpp"
#include "agora/discovery/master_info.hpp"
#include "agora/master/registry.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/messages.hpp"

namespace {

using namespace agora;

void write(const std::string& path, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary};
  out << bytes;
  if (!out) std::fprintf(stderr, "cannot write %s\n", path.c_str());
}

template <class T>
std::string encode(caf::actor_system* sys, T& value) {
  std::vector<char> buf;
  if (sys != nullptr) {
    caf::binary_serializer sink{*sys, buf};
    (void)sink(value);
  } else {
    caf::binary_serializer sink{nullptr, buf};
    (void)sink(value);
  }
  return std::string(buf.begin(), buf.end());
}

protocol::task_info sample_task() {
  protocol::task_info t;
  t.id = "t1";
  t.name = "hello";
  t.command = "echo hi";
  std::string err;
  protocol::resources::parse("cpus:0.5;mem:64MiB;ports:[31000-31001]", t.res, err);
  t.environment["A"] = "b";
  t.kill_grace_ms = 2000;
  return t;
}

protocol::framework_info sample_framework() {
  protocol::framework_info f;
  f.id = "fw-1";
  f.name = "demo";
  f.roles = {"prod"};
  f.capabilities = {"PARTITION_AWARE"};
  f.labels["team"] = "a";
  return f;
}

protocol::task_status sample_status() {
  protocol::task_status s;
  s.task_id = "t1";
  s.framework_id = "fw-1";
  s.agent_id = "a1";
  s.state = protocol::task_state::failed;
  s.reason = "REASON_COMMAND_EXECUTOR_FAILED";
  s.message = "exited with status 3";
  s.uuid = "u-1";
  s.exit_code = 3;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  caf::actor_system_config cfg;
  protocol::announce(cfg);
  agent::announce(cfg);
  caf::actor_system sys{cfg};

  // messages: every announced type's default value, and a few full ones.
  for (auto& entry : cfg.value_factories_by_name) {
    // Agora's announced types; not CAF's own, nor the vectors and streams
    // of ours CAF adds (the fuzzer still decodes those when it names them).
    if (entry.first.rfind("agora.", 0) != 0) continue;
    auto value = sys.types().make_value(entry.first);
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    (void)value->save(sink);
    write(dir + "/messages/seed-" + entry.first,
          entry.first + '\0' + std::string(buf.begin(), buf.end()));
  }
  protocol::accept acc;
  acc.framework_id = "fw-1";
  acc.offer_ids = {"o-1", "o-2"};
  acc.launch.push_back(sample_task());
  acc.filter.refuse_ms = 1234;
  write(dir + "/messages/seed-full-accept", std::string("agora.accept") + '\0' + encode(&sys, acc));
  protocol::status_update up;
  up.status = sample_status();
  write(dir + "/messages/seed-full-status_update",
        std::string("agora.status_update") + '\0' + encode(&sys, up));
  protocol::run_task run;
  run.framework = sample_framework();
  run.task = sample_task();
  run.role = "prod";
  run.epoch = 4;
  write(dir + "/messages/seed-full-run_task",
        std::string("agora.run_task") + '\0' + encode(&sys, run));

  // checkpoint: a whole agent and task file (selector 0), and each payload
  // alone (selectors 1 and 3).
  agent::agent_checkpoint ac;
  ac.agent_id = "a1";
  ac.master = "127.0.0.1:5055";
  ac.master_epoch = 2;
  ac.boot_id = "0f6e1b9c";
  agent::task_checkpoint tc;
  tc.framework = sample_framework();
  tc.info = sample_task();
  tc.role = "prod";
  tc.status = sample_status();
  tc.pid = 4242;
  tc.start_time = 123456;
  tc.sandbox = "/var/lib/agora/frameworks/fw-1/tasks/t1";
  tc.container_id = "c-1";
  tc.pending = {sample_status()};
  auto agent_payload = encode(nullptr, ac);
  auto task_payload = encode(nullptr, tc);
  write(dir + "/checkpoint/seed-agent-file",
        std::string(1, '\0') + agent::encode_checkpoint(agent_payload));
  write(dir + "/checkpoint/seed-task-file",
        std::string(1, '\0') + agent::encode_checkpoint(task_payload));
  write(dir + "/checkpoint/seed-agent-payload", std::string(1, '\1') + agent_payload);
  write(dir + "/checkpoint/seed-task-payload", std::string(1, '\3') + task_payload);

  // json: a registry (selector 0) and a master's info (selector 1).
  master::registry r;
  r.leader_epoch = 3;
  r.agents["a1"] = {"h1", master::registry::agent_state::admitted, ""};
  r.agents["a2"] = {"h2", master::registry::agent_state::unreachable, "agents"};
  r.remove_framework("fw-9");
  r.policy = master::registry::policy_record{"drf.policy", "policy drf {}", "", 2, 1700000000000};
  write(dir + "/json/seed-registry", std::string(1, '\0') + r.to_json());
  discovery::master_info m;
  m.id = "m1";
  m.hostname = "host1";
  m.actor_host = "10.0.0.1";
  m.actor_port = 5055;
  m.http_address = "10.0.0.1:5050";
  m.version = "0.1.0";
  write(dir + "/json/seed-master-info", std::string(1, '\1') + m.to_json());
  return 0;
}
