#include "agora/main/local_cluster.hpp"

#include <iostream>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/agent/agent_actor.hpp"
#include "agora/main/frameworks.hpp"
#include "agora/main/local_ha.hpp"
#include "agora/main/master_runtime.hpp"
#include "agora/main/signals.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/transport.hpp"

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
  protocol::resources::parse("cpus:2;mem:2GiB;disk:10GiB;ports:[31000-31999]", agent_res, ignored);
  std::string demo_command = "sleep 2";
  int64_t demo_parallel = 6;
  int64_t masters = 1;
  uint16_t zk_port = 2181;
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
  f.add("masters", &masters,
        "masters: 1 runs in this process; more start a local ZooKeeper server and that many "
        "agora-master processes (restarted when they exit) that elect a leader");
  f.add("zk-port", &zk_port, "client port of the local ZooKeeper server (with --masters > 1)");
  f.parse_or_exit(argc, argv, 2);
  std::string error;
  if (agents < 1 || agents > 1000) error = "--agents: must be between 1 and 1000";
  if (racks < 1) error = "--racks: must be at least 1";
  if (agent_res.empty()) error = "--agent-resources: must not be empty";
  if (masters < 1 || masters > 9) error = "--masters: must be between 1 and 9";
  if (error.empty()) error = check_master_flags(opts, masters > 1 || !opts.zk.empty());
  if (error.empty() && masters > 1 && opts.quorum_size > masters)
    error = "--quorum-size: larger than --masters (no master would ever lead)";
  if (!error.empty()) {
    std::cerr << "agora local: error: " << error << "\n";
    return 2;
  }

  caf::actor_system_config cfg;
  protocol::announce(cfg);
  agent::announce(cfg);
  protocol::load_transport(cfg, opts.tls);
  caf::actor_system sys{cfg};
  std::unique_ptr<master_runtime> rt;
  std::unique_ptr<local_ha> ha;
  if (masters == 1) {
    rt = master_runtime::start(sys, opts, error);
  } else {
    local_ha::options ho;
    ho.masters = masters;
    ho.ip = opts.ip;
    ho.zk_port = zk_port;
    ho.http_port = opts.http_port;
    ho.actor_port = opts.actor_port;
    ho.work_dir = work_dir;
    ho.master_flags = {
        "--zk-session-timeout=" + std::to_string(opts.zk_session_timeout.count()) + "ms",
        "--allocation-interval=" + std::to_string(opts.config.allocation_interval.count()) + "ms",
        "--quorum-size=" + std::to_string(opts.quorum_size)};
    if (!opts.policy_path.empty()) ho.master_flags.push_back("--policy=" + opts.policy_path);
    if (opts.tls.enabled())
      ho.master_flags.insert(ho.master_flags.end(),
                             {"--tls-cert=" + opts.tls.cert_file, "--tls-key=" + opts.tls.key_file,
                              "--tls-ca=" + opts.tls.ca_file});
    ha = std::make_unique<local_ha>();
    if (!ha->start(ho, error)) ha.reset();
  }
  if (!rt && !ha) {
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
    // Each agent serves its sandboxes over HTTP on a free port, so the
    // master (and its UI) reads them as in a real cluster; beyond 100
    // agents in one process the HTTP threads cost more than they help.
    ac.http_enabled = agents <= 100;
    ac.http_host = opts.ip;
    ac.http_port = 0;
    ac.http_tls_cert = opts.tls.cert_file;
    ac.http_tls_key = opts.tls.key_file;
    ac.log = [i](const std::string& line) {
      std::cerr << "agora local: agent " << i << ": " << line << "\n";
    };
    if (ha) {
      ac.master = ha->url();  // follows the leader through ZooKeeper
      agent_actors.push_back(agent::spawn_agent(sys, ac));
    } else {
      agent_actors.push_back(agent::spawn_agent(sys, ac, rt->actor()));
    }
  }
  if (ha) {
    std::cout << "agora local: " << masters << " masters electing a leader through ZooKeeper at "
              << ha->url() << ", and " << agents << " agents on " << racks << " racks\n";
    auto pids = ha->master_pids();
    for (size_t i = 0; i < pids.size(); ++i)
      std::cout << "agora local: master " << i << ": pid " << pids[i] << ", http://" << opts.ip
                << ":" << opts.http_port + i << "/ (standbys redirect to the leader), log "
                << work_dir << "/master-" << i << ".log\n";
    std::cout << "agora local: kill -9 the leader's pid to watch a failover (it is restarted as "
                 "a standby); frameworks follow the leader, e.g. agora execute --master "
              << ha->url() << " --command 'echo hello'" << std::endl;
  } else {
    std::cout << "agora local: master and " << agents << " agents on " << racks << " racks\n"
              << "agora local: UI and state on http://" << opts.ip << ":" << rt->http_port()
              << "/ (JSON: /state)\n"
              << "agora local: frameworks connect to " << opts.ip << ":" << rt->actor_port()
              << ", e.g. agora execute --master " << opts.ip << ":" << rt->actor_port()
              << " --command 'echo hello'" << std::endl;
  }

  caf::actor demo_driver;
  if (demo) {
    demo_scheduler::options dopts;
    dopts.tasks = 0;
    dopts.parallel = demo_parallel;
    dopts.command = demo_command;
    dopts.quiet = false;
    scheduler::driver_config dcfg;
    if (ha)
      dcfg.master_url = ha->url();
    else
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
  ha.reset();
  return 0;
}

}  // namespace agora::main
