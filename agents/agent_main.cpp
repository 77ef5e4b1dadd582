// agora-agent: the agent daemon. Registers with a master, runs its tasks,
// serves `/health` and `/state`. See agora/agent/agent_actor.hpp.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <sched.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/agent/agent_actor.hpp"
#include "agora/auth/credentials.hpp"
#include "agora/auth/flags.hpp"
#include "agora/cli/flags.hpp"
#include "agora/discovery/master_info.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/transport.hpp"

namespace {

using namespace agora;

constexpr int64_t gib = int64_t{1} << 30;
constexpr int64_t mib = int64_t{1} << 20;

// Returns MemTotal from /proc/meminfo in bytes (0 if unknown).
int64_t mem_total() {
  std::ifstream in{"/proc/meminfo"};
  std::string key, unit;
  int64_t value = 0;
  while (in >> key >> value) {
    std::getline(in, unit);
    if (key == "MemTotal:") return value * 1024;
  }
  return 0;
}

// Resources detected from the host: all CPUs, memory minus 1 GiB headroom
// (at least half of it), the free disk of the work directory, ports
// [31000-32000].
protocol::resources detect_resources(const std::string& work_dir) {
  protocol::resources r;
  // As `nproc`: the CPUs this process may run on (cpusets, taskset).
  int64_t cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  r.cpus_milli = std::max<int64_t>(1, cpus) * 1000;
  int64_t total = mem_total();
  r.mem_bytes = std::max(total - gib, total / 2) / mib * mib;
  std::error_code ec;
  std::filesystem::create_directories(work_dir, ec);
  struct statvfs vfs;
  if (::statvfs(work_dir.c_str(), &vfs) == 0)
    r.disk_bytes =
        static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize) / mib * mib;
  r.ports = {{31000, 32000}};
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT/SIGTERM are taken with `sigwait` below; block them before any
  // thread starts so every thread inherits the mask (task processes reset it).
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGINT);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);

  agent::agent_config ac;
  std::string master = "127.0.0.1:5055";
  std::string ip = "127.0.0.1";
  uint16_t http_port = 5051;
  uint16_t actor_port = 5056;
  bool resources_given = false;
  protocol::tls_options tls;
  cli::flags f{"agora-agent",
               "The Agora agent: offers this host's resources to a master and "
               "runs the tasks the master sends."};
  f.add_custom("master", master,
               "the master's actor address HOST:PORT, or zk://HOST:PORT[,HOST:PORT...]/PATH to "
               "follow the leading master (required)",
               [&](const std::string& v, std::string& err) {
                 if (!discovery::check_master_spec(v, err)) return false;
                 if (!discovery::is_zk_url(v))
                   cli::parse_host_port(v, ac.master_host, ac.master_port, err);
                 master = v;
                 ac.master = v;
                 return true;
               });
  f.add_custom("resources", "detected: nproc, MemTotal-1GiB, free disk, ports:[31000-32000]",
               "total resources, e.g. cpus:4;mem:8GiB;disk:20GiB;ports:[31000-32000]",
               [&](const std::string& v, std::string& err) {
                 if (!protocol::resources::parse(v, ac.resources, err)) return false;
                 if (ac.resources.empty()) {
                   err = "'" + v + "' has no resources";
                   return false;
                 }
                 if (auto why = ac.resources.limit_error(); !why.empty()) {
                   err = "'" + v + "': " + why + " (the most one agent may offer)";
                   return false;
                 }
                 resources_given = true;
                 return true;
               });
  f.add_custom("attributes", "", "attributes, e.g. rack:r1;zone:z1",
               [&](const std::string& v, std::string& err) {
                 return protocol::parse_attributes(v, ac.attributes, err);
               });
  f.add("hostname", &ac.hostname, "hostname reported to the master (default: gethostname)");
  f.add("work-dir", &ac.work_dir, "directory for task sandboxes");
  f.add("ip", &ip, "address to bind HTTP and the actor port to");
  f.add("port", &http_port, "HTTP port (0: any free port)");
  f.add("actor-port", &actor_port, "port the agent actor is published on (0: any free port)");
  f.add("per-task-metrics", &ac.per_task_metrics,
        "/metrics shows each task's usage with a `task` label (default: summed by framework and "
        "role, so series do not grow with tasks)");
  f.add("kill-grace", &ac.kill_grace, "SIGTERM-to-SIGKILL grace period of a task kill");
  f.add("status-retry-interval", &ac.status_retry_interval,
        "first re-send of an unacknowledged status update (then doubling)");
  f.add("status-retry-max", &ac.status_retry_max,
        "longest wait between re-sends of an unacknowledged status update");
  f.add_custom("isolation", ac.isolation,
               "cgroups (a cgroup per task with cpu, memory and pids limits), posix (process "
               "groups, no limits) or auto (cgroups where usable, else posix with a warning)",
               [&](const std::string& v, std::string& err) {
                 if (v != "auto" && v != "cgroups" && v != "posix") {
                   err = "'" + v + "' is not auto, cgroups or posix";
                   return false;
                 }
                 ac.isolation = v;
                 return true;
               });
  f.add_custom("cgroups-root", ac.cgroups.root,
               "the cgroup under which agents put their tasks' cgroups (in each hierarchy)",
               [&](const std::string& v, std::string& err) {
                 std::filesystem::path p{v};
                 bool ok = !v.empty() && p.is_relative();
                 for (const auto& part : p) ok = ok && part != ".." && part != ".";
                 if (!ok) {
                   err = "'" + v + "' is not a relative cgroup path without '.' or '..'";
                   return false;
                 }
                 ac.cgroups.root = v;
                 return true;
               });
  f.add_custom("recover", ac.recover,
               "what to do with the tasks a previous run of this agent (same --work-dir) left: "
               "reconnect (re-attach to them and keep the agent id; SIGTERM then leaves tasks "
               "running for the next run) or cleanup (kill them and start afresh; SIGTERM "
               "kills tasks)",
               [&](const std::string& v, std::string& err) {
                 if (v != "reconnect" && v != "cleanup") {
                   err = "'" + v + "' is not reconnect or cleanup";
                   return false;
                 }
                 ac.recover = v;
                 return true;
               });
  f.add("shim", &ac.shim, "path of agora-shim, the first process of every task");
  f.add("gc-delay", &ac.gc_delay, "how long the sandbox of a finished task is kept");
  f.add("gc-disk-threshold", &ac.gc_disk_threshold,
        "when the work directory's disk is fuller than this fraction, finished tasks' "
        "sandboxes are removed early, oldest first");
  f.add("disk-watch-interval", &ac.disk_watch_interval,
        "how often the disk is checked and old sandboxes are removed");
  f.add("cgroups-enable-cfs", &ac.cgroups.enable_cfs,
        "cap each task's cpu time at its cpus (CFS quota), not only weight it");
  f.add("max-task-pids", &ac.cgroups.max_pids,
        "most processes and threads one task may have, with cgroups (0: no limit)");
  std::string secret_file;
  f.add_custom("credentials", "",
               "principals and secrets HTTP clients may authenticate with (the master's file "
               "shape; readable by its owner only)",
               auth::load_credentials_flag(&ac.credentials));
  f.add("authenticate-http", &ac.authenticate_http,
        "every HTTP request but /health must authenticate (Basic or Bearer, --credentials)");
  f.add_custom("acls", "",
               "authorization rules (docs/security.md): read_endpoints and access_sandboxes",
               auth::load_acls_flag(&ac.acls));
  f.add("switch-user", &ac.switch_user,
        "run each task as its framework's user (uid, gid and supplementary groups set before "
        "exec, sandbox owned by it); a framework naming no user is refused. Needs root");
  f.add("principal", &ac.principal,
        "authenticate to the master as this principal (with --secret-file; needed when the "
        "master runs with --authenticate-agents)");
  f.add("secret-file", &secret_file,
        "file holding the principal's secret (readable by its owner only)");
  cli::add_tls_flags(f, &tls.cert_file, &tls.key_file, &tls.ca_file);
  f.parse_or_exit(argc, argv);
  if (auto bad = auth::read_client_secret(ac.principal, secret_file, true, ac.secret);
      !bad.empty()) {
    std::cerr << "agora-agent: error: " << bad << "\n";
    return 2;
  }
  if (ac.authenticate_http && !ac.credentials) {
    std::cerr << "agora-agent: error: --authenticate-http: needs --credentials\n";
    return 2;
  }
  if (!f.positional().empty()) {
    std::cerr << "agora-agent: error: unexpected argument '" << f.positional().front() << "'\n";
    return 2;
  }
  if (!f.given("master")) {
    std::cerr << "agora-agent: error: --master: is required (HOST:PORT or zk://... of the "
                 "master)\n"
              << "run 'agora-agent --help' for the list of flags\n";
    return 2;
  }
  if (ac.gc_delay.count() < 0 || !(ac.gc_disk_threshold >= 0 && ac.gc_disk_threshold <= 1) ||
      ac.disk_watch_interval.count() <= 0) {
    std::cerr << "agora-agent: error: "
              << (ac.gc_delay.count() < 0 ? "--gc-delay: must not be negative"
                  : ac.disk_watch_interval.count() <= 0
                      ? "--disk-watch-interval: must be positive"
                      : "--gc-disk-threshold: must be a fraction from 0 to 1")
              << "\n";
    return 2;
  }
  if (auto bad = protocol::check_tls_options(tls); !bad.empty()) {
    std::cerr << "agora-agent: error: " << bad << "\n";
    return 2;
  }
  if (ac.cgroups.max_pids < 0) {
    std::cerr << "agora-agent: error: --max-task-pids: must not be negative\n";
    return 2;
  }
  if (ac.status_retry_max < ac.status_retry_interval) {
    std::cerr << "agora-agent: error: --status-retry-max: must not be below "
                 "--status-retry-interval\n";
    return 2;
  }
  if (ac.kill_grace.count() < 0 || ac.status_retry_interval.count() <= 0) {
    std::cerr << "agora-agent: error: "
              << (ac.kill_grace.count() < 0 ? "--kill-grace: must not be negative"
                                            : "--status-retry-interval: must be positive")
              << "\n";
    return 2;
  }
  if (!resources_given) ac.resources = detect_resources(ac.work_dir);
  ac.checkpoint = true;
  if (ac.shim.empty()) {
    // Built next to this binary.
    std::error_code ec;
    auto self_path = std::filesystem::read_symlink("/proc/self/exe", ec);
    ac.shim = (self_path.parent_path() / "agora-shim").string();
  }
  ac.http_enabled = true;
  ac.http_host = ip;
  ac.http_port = http_port;
  ac.http_tls_cert = tls.cert_file;
  ac.http_tls_key = tls.key_file;
  ac.on_http_started = [](const std::string& address) {
    std::printf("agora-agent: http on %s\n", address.c_str());
    std::fflush(stdout);
  };
  ac.on_registered = [](const std::string& id, const std::string& master_address) {
    std::printf("agora-agent: registered with master %s as %s\n", master_address.c_str(),
                id.c_str());
    std::fflush(stdout);
  };

  caf::actor_system_config cfg;
  protocol::announce(cfg);
  agent::announce(cfg);
  protocol::load_transport(cfg, tls);
  // An agent is idle nearly always. CAF's default scheduler wakes each idle
  // worker every 10 ms and polls for ~25 ms after every message: about
  // 8 ms of CPU per second per idle agent process here, which at a few
  // hundred agents per machine (benchmarks, packed test clusters) is more
  // than a core. Sleeping workers are woken when work arrives, so longer
  // idle sleeps only slow work stealing between the agent's two workers;
  // measured: under 1 ms of CPU per second idle (docs/BENCHMARKS.md).
  cfg.set("work-stealing.relaxed-sleep-duration", caf::timespan{std::chrono::milliseconds{200}});
  cfg.set("work-stealing.moderate-poll-attempts", size_t{10});
  caf::actor_system sys{cfg};
  auto agent = agent::spawn_agent(sys, ac);
  if (!agent) return 1;  // the reason is logged
  auto published = protocol::publish(sys, agent, actor_port, ip);
  if (!published) {
    std::cerr << "agora-agent: error: cannot publish the agent on " << ip << ":" << actor_port
              << ": " << sys.render(published.error()) << "\n";
    caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
    return 1;
  }
  std::printf("agora-agent: actor on %s:%u\n", ip.c_str(), static_cast<unsigned>(*published));
  std::fflush(stdout);

  // Should the agent actor end by itself (a fatal error), the process must
  // not linger with its HTTP closed: a watcher wakes the signal wait.
  std::atomic<bool> agent_ended{false};
  std::string end_reason;
  std::thread watcher{[&] {
    caf::scoped_actor w{sys};
    w->monitor(agent);
    w->receive([&](const caf::down_msg& dm) {
      end_reason = sys.render(dm.reason);
      agent_ended = true;
      ::kill(::getpid(), SIGTERM);
    });
  }};
  int sig = 0;
  while (sigwait(&term, &sig) != 0) {
  }
  if (agent_ended) {
    watcher.join();
    std::cerr << "agora-agent: the agent stopped (" << end_reason << "); exiting\n";
    protocol::unpublish(sys, agent.address(), *published);
    return 1;
  }
  // SIGUSR1, or any stop with `--recover cleanup`: kill every task (their
  // terminal updates go out) and stop. SIGTERM or SIGINT with `--recover
  // reconnect`: stop, leaving the tasks running for the next agent process.
  const bool leave = sig != SIGUSR1 && ac.recover == "reconnect";
  std::printf("agora-agent: stopping on signal %d (%s)\n", sig,
              leave ? "tasks keep running" : "killing tasks");
  std::fflush(stdout);
  caf::scoped_actor self{sys};
  auto on_error = [&](caf::error& err) {
    std::cerr << "agora-agent: stop: " << sys.render(err) << "\n";
    caf::anon_send_exit(agent, caf::exit_reason::kill);
  };
  if (leave)
    self->request(agent, std::chrono::seconds{10}, agent::leave_atom::value)
        .receive([](agent::leave_atom) {}, on_error);
  else
    self->request(agent, ac.kill_grace + std::chrono::seconds{10}, agent::stop_atom::value)
        .receive([](agent::stop_atom) {}, on_error);
  watcher.join();  // the agent is down now (stopped, or killed above)
  protocol::unpublish(sys, agent.address(), *published);
  return 0;
}
