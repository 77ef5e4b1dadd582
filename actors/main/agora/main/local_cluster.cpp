#include "agora/main/local_cluster.hpp"

#include <iostream>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/agent/agent_actor.hpp"
#include "agora/main/frameworks.hpp"
#include "agora/main/master_runtime.hpp"
#include "agora/main/signals.hpp"
#include "agora/protocol/announce.hpp"

namespace agora::main {

int run_local_cluster(int argc, char** argv) {
  block_termination_signals();
  master_options opts;
  int64_t agents = 3;
  int64_t racks = 2;
  bool demo = false;
  std::string work_dir = "/tmp/agora/local";
  protocol::resources agent_res;
  std::string ignored;
  protocol::resources::parse("cpus:2;mem:2GiB;disk:10GiB;ports:[31000-31999]", agent_res,
                             ignored);
  std::string demo_command = "sleep 2";
  int64_t demo_parallel = 6;
  cli::flags f{"agora local",
               "Runs a master and N agents in one process, on the master's usual ports."};
  add_master_flags(f, opts);
  f.add("agents", &agents, "number of agents");
  f.add("racks", &racks, "agents are spread over this many racks (attribute rack:rN)");
  f.add("work-dir", &work_dir, "agents' sandboxes go under WORK_DIR/agent-N");
  f.add_custom("agent-resources", agent_res.to_string(), "resources of each agent",
               [&agent_res](const std::string& v, std::string& err) {
                 return protocol::resources::parse(v, agent_res, err);
               });
  f.add("demo", &demo, "also run the demo framework (a steady trickle of short tasks)");
  f.add("demo-command", &demo_command, "command of each demo task");
  f.add("demo-parallel", &demo_parallel, "demo tasks running at once");
  f.parse_or_exit(argc, argv, 2);
  std::string error;
  if (agents < 1 || agents > 1000) error = "--agents: must be between 1 and 1000";
  if (racks < 1) error = "--racks: must be at least 1";
  if (agent_res.empty()) error = "--agent-resources: must not be empty";
  if (!error.empty()) {
    std::cerr << "agora local: error: " << error << "\n";
    return 2;
  }

  caf::actor_system_config cfg;
  protocol::announce(cfg);
  agent::announce(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto rt = master_runtime::start(sys, opts, error);
  if (!rt) {
    std::cerr << "agora local: error: " << error << "\n";
    return 1;
  }
  std::vector<caf::actor> agent_actors;
  for (int64_t i = 0; i < agents; ++i) {
    agent::agent_config ac;
    ac.hostname = "local-agent-" + std::to_string(i);
    ac.resources = agent_res;
    ac.attributes = {{"rack", "r" + std::to_string(i % racks + 1)}, {"zone", "z1"}};
    ac.work_dir = work_dir + "/agent-" + std::to_string(i);
    ac.http_enabled = false;
    ac.log = [i](const std::string& line) {
      std::cerr << "agora local: agent " << i << ": " << line << "\n";
    };
    agent_actors.push_back(agent::spawn_agent(sys, ac, rt->actor()));
  }
  std::cout << "agora local: master and " << agents << " agents on " << racks << " racks\n"
            << "agora local: UI and state on http://" << opts.ip << ":" << rt->http_port()
            << "/ (JSON: /state)\n"
            << "agora local: frameworks connect to " << opts.ip << ":" << rt->actor_port()
            << ", e.g. agora execute --master " << opts.ip << ":" << rt->actor_port()
            << " --command 'echo hello'" << std::endl;

  caf::actor demo_driver;
  if (demo) {
    demo_scheduler::options dopts;
    dopts.tasks = 0;
    dopts.parallel = demo_parallel;
    dopts.command = demo_command;
    dopts.quiet = false;
    scheduler::driver_config dcfg;
    dcfg.master = rt->actor();
    dcfg.framework.name = "agora-demo";
    dcfg.framework.roles = {"demo"};
    demo_driver = scheduler::spawn_driver(sys, dcfg, std::make_shared<demo_scheduler>(dopts));
  }

  int sig = wait_for_termination_signal();
  std::cout << "agora local: stopping on signal " << sig << std::endl;
  if (demo_driver) caf::anon_send_exit(demo_driver, caf::exit_reason::user_shutdown);
  // Stop every agent: each kills its tasks (grace period) and replies.
  caf::scoped_actor self{sys};
  for (auto& a : agent_actors) {
    self->request(a, std::chrono::seconds{30}, agent::stop_atom::value)
        .receive([](agent::stop_atom) {}, [](const caf::error&) {});
  }
  rt.reset();
  return 0;
}

}  // namespace agora::main
