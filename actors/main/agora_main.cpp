// agora: the command-line tool. Subcommands: local, execute, demo, load, fleet, policy.

#include <iostream>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/auth/credentials.hpp"
#include "agora/auth/flags.hpp"
#include "agora/cli/flags.hpp"
#include "agora/discovery/master_info.hpp"
#include "agora/main/fleet.hpp"
#include "agora/main/frameworks.hpp"
#include "agora/main/load.hpp"
#include "agora/main/local_cluster.hpp"
#include "agora/main/policy_client.hpp"
#include "agora/main/policy_sim.hpp"
#include "agora/main/signals.hpp"
#include "agora/policy/tool.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/transport.hpp"
#include "agora/scheduler/driver.hpp"

namespace {

using namespace agora;

constexpr const char* usage_text =
    "usage: agora COMMAND [flags]\n"
    "\n"
    "commands:\n"
    "  local     run a master and N agents in one process (no ZooKeeper)\n"
    "  execute   run one command as a task and exit with its status\n"
    "  demo      run many small tasks and print throughput figures\n"
    "  load      launch N tasks through F frameworks and measure placement rate and latency\n"
    "  policy    check and format allocation policies (agora policy --help)\n"
    "  fleet     run N simulated agents against a real master (scale tests)\n"
    "\n"
    "run 'agora COMMAND --help' for the flags of a command\n";

/// Flags shared by the framework subcommands.
struct framework_flags {
  std::string master = "127.0.0.1:5055";
  std::string name;
  std::string role = "*";
  std::string principal;
  std::string secret_file;
  std::string user;
  double cpus = 0.1;
  protocol::resources res = protocol::resources::make(0.1, 32 << 20);
  std::chrono::milliseconds failover_timeout{0};
  protocol::tls_options tls;

  void add(cli::flags& f) {
    f.add("master", &master,
          "the master's actor endpoint HOST:PORT, or zk://HOST:PORT[,...]/PATH to follow the "
          "leader");
    f.add("name", &name, "framework name");
    f.add("role", &role, "role to receive offers for");
    f.add("principal", &principal,
          "principal of the framework (with --secret-file: authenticate as it)");
    f.add("secret-file", &secret_file,
          "file holding the principal's secret (readable by its owner only); the framework "
          "authenticates to the master with it");
    f.add("user", &user,
          "OS user the tasks run as on agents with --switch-user (default: the user running "
          "this command)");
    f.add("failover-timeout", &failover_timeout,
          "how long the master keeps tasks after the framework disconnects");
    f.add("cpus", &cpus, "CPUs per task");
    f.add_custom("mem", "32MiB", "memory per task, with a unit (e.g. 64MiB)",
                 [this](const std::string& v, std::string& err) {
                   return protocol::parse_bytes(v, res.mem_bytes, err);
                 });
    cli::add_tls_flags(f, &tls.cert_file, &tls.key_file, &tls.ca_file);
  }

  /// Completes the task resources and the driver config; false on bad input.
  bool finish(scheduler::driver_config& cfg, std::string& error) {
    if (!(cpus > 0) || cpus > 1e6) {
      error = "--cpus: must be a positive number";
      return false;
    }
    res.cpus_milli = static_cast<int64_t>(cpus * 1000 + 0.5);
    if (!discovery::check_master_spec(master, error)) {
      error = "--master: " + error;
      return false;
    }
    if (error = protocol::check_tls_options(tls); !error.empty()) return false;
    if (discovery::is_zk_url(master))
      cfg.master_url = master;
    else
      cli::parse_host_port(master, cfg.master_host, cfg.master_port, error);
    cfg.framework.name = name;
    cfg.framework.roles = {role};
    cfg.framework.principal = principal;
    cfg.framework.user = user;
    error = auth::read_client_secret(principal, secret_file, false, cfg.secret);
    if (!error.empty()) return false;
    cfg.framework.failover_timeout_ms = failover_timeout.count();
    return true;
  }
};

/// The actor system of a framework process: protocol announced, middleman
/// loaded (to reach a remote master), over TLS with `--tls-*`.
struct client_system {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  explicit client_system(const protocol::tls_options& tls) : sys(configure(cfg, tls)) {}
  static caf::actor_system_config& configure(caf::actor_system_config& cfg,
                                             const protocol::tls_options& tls) {
    protocol::announce(cfg);
    protocol::load_transport(cfg, tls);
    return cfg;
  }
};

/// Runs a driver for `sched` until it stops; returns false on `timeout`.
bool run_driver(caf::actor_system& sys, scheduler::driver_config cfg,
                std::shared_ptr<scheduler::scheduler> sched, std::chrono::milliseconds timeout) {
  auto driver = scheduler::spawn_driver(sys, std::move(cfg), std::move(sched));
  caf::scoped_actor self{sys};
  self->monitor(driver);
  bool stopped = false;
  if (timeout.count() > 0) {
    self->receive([&](const caf::down_msg&) { stopped = true; }, caf::after(timeout) >> [&] {});
  } else {
    self->receive([&](const caf::down_msg&) { stopped = true; });
  }
  if (!stopped) caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
  return stopped;
}

int cmd_execute(int argc, char** argv) {
  framework_flags ff;
  ff.name = "agora-execute";
  main::execute_scheduler::options opts;
  std::chrono::milliseconds timeout{0};
  std::string env;
  cli::flags f{"agora execute", "Runs one command as a task; exits with its exit status."};
  ff.add(f);
  f.add("command", &opts.command, "shell command to run (required)");
  f.add("task-name", &opts.task_name, "name of the task");
  f.add("env", &env, "environment for the task, e.g. A=1;B=2");
  f.add("timeout", &timeout, "give up after this long (0ms: wait forever)");
  f.parse_or_exit(argc, argv, 2);
  scheduler::driver_config cfg;
  std::string error;
  if (opts.command.empty()) error = "--command: required";
  if (error.empty()) ff.finish(cfg, error);
  for (size_t pos = 0; error.empty() && pos < env.size();) {
    auto semi = env.find(';', pos);
    auto item = env.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
    pos = semi == std::string::npos ? env.size() : semi + 1;
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      error = "--env: '" + item + "' is not NAME=VALUE";
    else
      opts.environment[item.substr(0, eq)] = item.substr(eq + 1);
  }
  if (!error.empty()) {
    std::cerr << "agora execute: error: " << error << "\n";
    return 2;
  }
  opts.res = ff.res;
  client_system client{ff.tls};
  auto& sys = client.sys;
  auto sched = std::make_shared<main::execute_scheduler>(opts);
  if (!run_driver(sys, cfg, sched, timeout)) {
    std::cerr << "agora execute: timed out after " << timeout.count() << "ms\n";
    return 124;
  }
  return sched->exit_status();
}

int cmd_demo(int argc, char** argv) {
  framework_flags ff;
  ff.name = "agora-demo";
  main::demo_scheduler::options opts;
  cli::flags f{"agora demo", "Runs many small tasks and prints launch figures."};
  ff.add(f);
  f.add("tasks", &opts.tasks, "number of tasks (0: run forever)");
  f.add("parallel", &opts.parallel, "at most this many tasks at once (0: as offers allow)");
  f.add("command", &opts.command, "shell command of each task");
  f.parse_or_exit(argc, argv, 2);
  scheduler::driver_config cfg;
  std::string error;
  if (opts.tasks < 0) error = "--tasks: must not be negative";
  if (error.empty()) ff.finish(cfg, error);
  if (!error.empty()) {
    std::cerr << "agora demo: error: " << error << "\n";
    return 2;
  }
  opts.res = ff.res;
  client_system client{ff.tls};
  auto& sys = client.sys;
  auto sched = std::make_shared<main::demo_scheduler>(opts);
  run_driver(sys, cfg, sched, std::chrono::milliseconds{0});
  auto s = sched->current();
  return s.failed == 0 ? 0 : 1;
}

int cmd_policy(int argc, char** argv) {
  std::vector<std::string> args(argv + 2, argv + argc);
  if (!args.empty() && args[0] == "sim") return main::run_policy_sim(args, std::cout, std::cerr);
  if (!args.empty() && main::is_remote_policy_verb(args[0]))
    return main::run_policy_remote(args, std::cout, std::cerr);
  return policy::run_policy_tool(args, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::cout << usage_text;
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "local") return main::run_local_cluster(argc, argv);
  if (cmd == "execute") return cmd_execute(argc, argv);
  if (cmd == "demo") return cmd_demo(argc, argv);
  if (cmd == "load") return main::run_load(argc, argv);
  if (cmd == "policy") return cmd_policy(argc, argv);
  if (cmd == "fleet") return main::fleet::run_fleet(argc, argv);
  std::cerr << "agora: error: unknown command '" << cmd << "'\n" << usage_text;
  return 2;
}
