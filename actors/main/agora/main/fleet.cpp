#include "agora/main/fleet.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <sstream>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/auth/credentials.hpp"
#include "agora/auth/flags.hpp"
#include "agora/cli/flags.hpp"
#include "agora/discovery/master_follower.hpp"
#include "agora/main/signals.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/errors.hpp"
#include "agora/protocol/exits.hpp"
#include "agora/protocol/transport.hpp"

namespace agora::main::fleet {

using namespace std::chrono_literals;

bool parse_register_rate(const std::string& text, double& out, std::string& error) {
  if (text == "max") {
    out = 0;
    return true;
  }
  auto num = text;
  if (num.size() > 2 && num.compare(num.size() - 2, 2, "/s") == 0) num.resize(num.size() - 2);
  char* end = nullptr;
  double v = num.empty() ? 0 : std::strtod(num.c_str(), &end);
  if (num.empty() || *end != '\0' || !std::isfinite(v) || v <= 0 || v > 1e9) {
    error = "'" + text + "' is not a rate (write e.g. 500/s, or max)";
    return false;
  }
  out = v;
  return true;
}

std::pair<int64_t, int64_t> agent_range(int64_t agents, int64_t processes, int64_t i) {
  // The first `agents % processes` processes take one agent more.
  int64_t base = agents / processes;
  int64_t extra = agents % processes;
  int64_t first = i * base + std::min(i, extra);
  return {first, first + base + (i < extra ? 1 : 0)};
}

std::string status_line(const fleet_totals& t, int64_t agents, double rss_mib) {
  std::ostringstream out;
  out << "agents " << t.registered << "/" << agents << " registered";
  if (t.connected == 0) out << " (not connected)";
  out << ", tasks " << t.running << " running, " << t.finished << " finished, " << t.failed
      << " failed, " << t.killed << " killed";
  if (t.rejected > 0) out << ", " << t.rejected << " refused/lost";
  out << "; updates " << t.updates_sent << " sent, " << t.updates_acked << " acked, "
      << t.updates_pending << " pending, " << t.updates_retried << " retried";
  if (t.register_failures > 0) out << "; " << t.register_failures << " registration failures";
  if (t.foreign_commands + t.stale_epoch_commands > 0)
    out << "; dropped " << t.foreign_commands << " foreign, " << t.stale_epoch_commands
        << " stale-epoch commands";
  char mem[64];
  std::snprintf(mem, sizeof(mem), "; rss %.0f MiB, heap %.0f MiB", rss_mib,
                static_cast<double>(t.heap_kib) / 1024);
  out << mem;
  return out.str();
}

std::string totals_json(const fleet_totals& t) {
  std::ostringstream out;
  out << "{\"agents\":" << t.agents << ",\"registered\":" << t.registered
      << ",\"registrations\":" << t.registrations << ",\"reregistrations\":" << t.reregistrations
      << ",\"register_failures\":" << t.register_failures << ",\"running\":" << t.running
      << ",\"launched\":" << t.launched << ",\"finished\":" << t.finished
      << ",\"failed\":" << t.failed << ",\"killed\":" << t.killed << ",\"rejected\":" << t.rejected
      << ",\"updates_sent\":" << t.updates_sent << ",\"updates_acked\":" << t.updates_acked
      << ",\"updates_retried\":" << t.updates_retried
      << ",\"updates_pending\":" << t.updates_pending << ",\"pings\":" << t.pings
      << ",\"foreign_commands\":" << t.foreign_commands
      << ",\"stale_epoch_commands\":" << t.stale_epoch_commands << ",\"connected\":" << t.connected
      << ",\"connections\":" << t.connections << "}";
  return out.str();
}

namespace {

constexpr const char* program = "agora fleet";

// -- diagnostics -------------------------------------------------------------------------

/// Prints diagnostic lines to stderr, at most `per_second` a second: ten
/// thousand agents that lose their master at once must not flood the
/// terminal. Lines over the budget are counted and the count printed.
class line_limiter {
 public:
  explicit line_limiter(int per_second) : per_second_(per_second) {}

  void operator()(const std::string& line) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto now = std::chrono::steady_clock::now();
    if (now - window_ >= 1s) {
      if (suppressed_ > 0)
        std::fprintf(stderr, "%s: (%lld similar lines not shown)\n", program,
                     static_cast<long long>(suppressed_));
      window_ = now;
      printed_ = 0;
      suppressed_ = 0;
    }
    if (printed_ >= per_second_) {
      ++suppressed_;
      return;
    }
    ++printed_;
    std::fprintf(stderr, "%s: %s\n", program, line.c_str());
  }

 private:
  std::mutex mtx_;
  int per_second_;
  std::chrono::steady_clock::time_point window_{};
  int printed_ = 0;
  int64_t suppressed_ = 0;
};

/// Records this process's heap in use (glibc's count of bytes malloc'd and
/// not freed) in `c`.
void sample_heap(fleet_counters& c) {
  auto m = ::mallinfo2();
  c.heap_kib.store(static_cast<int64_t>((m.uordblks + m.hblkhd) / 1024), std::memory_order_relaxed);
}

/// Returns the resident memory of process `pid` in KiB (0 if unreadable).
int64_t rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      int64_t kib = 0;
      in >> kib;
      return kib;
    }
    std::getline(in, key);
  }
  return 0;
}

// -- the connection actor ------------------------------------------------------------------

using hand_atom = caf::atom_constant<caf::atom("fhand")>;
using reconnect_atom = caf::atom_constant<caf::atom("freconnect")>;

/// The process's one connection to the master: follows the leader (one
/// ZooKeeper session per process, not per agent), connects through the
/// middleman, and hands the master's handle to the agents at the
/// registration rate; tells them when the connection is lost.
struct connector_state {
  static inline const char* name = "agora.fleet.connector";

  std::shared_ptr<const std::vector<caf::actor>> agents;
  std::function<void(const std::string&)> log;
  fleet_counters* counters = nullptr;
  double rate = 0;  ///< Agents per second; 0: all at once.
  std::unique_ptr<discovery::master_follower> follower;
  std::string host;
  uint16_t port = 0;
  std::string address;
  int64_t epoch = -1;
  caf::actor master;
  uint64_t generation = 0;
  std::chrono::milliseconds backoff{0};
  size_t handed = 0;  ///< Agents given the current master.
  std::chrono::steady_clock::time_point hand_start;
};

using connector_ptr = caf::stateful_actor<connector_state>*;

void say(connector_ptr self, const std::string& line) {
  if (self->state.log) self->state.log(line);
}

void tell_lost(connector_ptr self) {
  for (const auto& a : *self->state.agents) self->send(a, flost_atom::value);
}

void hand_out(connector_ptr self) {
  auto& st = self->state;
  if (!st.master) return;
  auto n = st.agents->size();
  size_t allowed = n;
  if (st.rate > 0) {
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - st.hand_start);
    allowed = std::min(n, static_cast<size_t>(st.rate * elapsed.count()) + 1);
  }
  for (; st.handed < allowed; ++st.handed)
    self->send((*st.agents)[st.handed], fmaster_atom::value, st.master, st.address, st.epoch);
  if (st.handed < n) self->delayed_send(self, 10ms, hand_atom::value, st.generation);
}

void connect(connector_ptr self);

void retry_connect(connector_ptr self, const std::string& why) {
  auto& st = self->state;
  st.backoff = st.backoff.count() == 0 ? 200ms : std::min(st.backoff * 2, 10000ms);
  say(self, "cannot connect to the master " + st.address + ": " + why + "; retrying in " +
                std::to_string(st.backoff.count()) + "ms");
  self->delayed_send(self, st.backoff, reconnect_atom::value, st.generation);
}

void connect(connector_ptr self) {
  auto& st = self->state;
  auto gen = ++st.generation;
  auto mm = protocol::connector(self->system());
  self->request(mm, 10s, caf::connect_atom::value, st.host, st.port)
      .then(
          [self, gen](const caf::node_id&, caf::strong_actor_ptr& ptr,
                      const std::set<std::string>&) {
            auto& st = self->state;
            if (gen != st.generation) return;
            if (!ptr) return retry_connect(self, "no actor published there");
            st.master = caf::actor_cast<caf::actor>(ptr);
            self->monitor(st.master);
            st.backoff = 0ms;
            st.counters->connected.store(1, std::memory_order_relaxed);
            st.counters->connections.fetch_add(1, std::memory_order_relaxed);
            say(self, "connected to the master " + st.address + "; registering " +
                          std::to_string(st.agents->size()) + " agents");
            st.handed = 0;
            st.hand_start = std::chrono::steady_clock::now();
            hand_out(self);
          },
          [self, gen](caf::error& err) {
            auto& st = self->state;
            if (gen != st.generation) return;
            retry_connect(
                self,
                protocol::explain_connect_error(self->system(), st.host, st.port, err).message);
          });
}

void drop_master(connector_ptr self) {
  auto& st = self->state;
  if (!st.master) return;
  self->demonitor(st.master);
  st.master = nullptr;
  st.counters->connected.store(0, std::memory_order_relaxed);
  tell_lost(self);
}

caf::behavior connector(connector_ptr self, std::shared_ptr<const std::vector<caf::actor>> agents,
                        std::string spec, double rate, fleet_counters* counters,
                        std::function<void(const std::string&)> log) {
  auto& st = self->state;
  st.agents = std::move(agents);
  st.rate = rate;
  st.counters = counters;
  st.log = std::move(log);
  protocol::ignore_remote_exits(self, [self] { say(self, "exit message from a peer ignored"); });
  self->set_down_handler([self](caf::scheduled_actor*, caf::down_msg& dm) {
    auto& st = self->state;
    if (!st.master || dm.source != st.master.address()) return;
    say(self, "lost the master " + st.address + ": " + self->system().render(dm.reason));
    drop_master(self);
    ++st.generation;
    retry_connect(self, "connection lost");
  });
  std::string error;
  st.follower = discovery::master_follower::start(spec, self, error);
  if (!st.follower) say(self, "cannot follow the master " + spec + ": " + error);
  return {
      [self](discovery::master_changed& m) {
        auto& st = self->state;
        if (self->current_sender()) return;  // only our own follower's reports
        if (!m.known) {
          say(self, "no leading master known; waiting");
          return;
        }
        auto address = m.leader.actor_host + ":" + std::to_string(m.leader.actor_port);
        if (address == st.address && st.master) return;
        if (m.leader.epoch >= 0 && m.leader.epoch < st.epoch) return;  // an older leader
        if (st.master) say(self, "leading master changed from " + st.address + " to " + address);
        drop_master(self);
        st.host = m.leader.actor_host;
        st.port = m.leader.actor_port;
        st.address = address;
        st.epoch = m.leader.epoch;
        st.backoff = 0ms;
        connect(self);
      },
      [self](hand_atom, uint64_t gen) {
        if (self->current_sender() != self->ctrl() || gen != self->state.generation) return;
        hand_out(self);
      },
      [self](reconnect_atom, uint64_t gen) {
        if (self->current_sender() != self->ctrl() || gen != self->state.generation) return;
        connect(self);
      },
  };
}

// -- the directory actor (--actor-port) ----------------------------------------------------

/// Answers `(get_atom, hostname)` with the handle of that agent of this
/// process, and `(state_atom)` with the process's figures as JSON.
caf::behavior directory(caf::event_based_actor* self,
                        std::shared_ptr<const std::vector<caf::actor>> agents, int64_t first,
                        std::string prefix, fleet_counters* counters) {
  protocol::ignore_remote_exits(self, nullptr);
  return {
      [=](caf::get_atom, const std::string& hostname) -> caf::result<caf::actor> {
        auto p = prefix + "-";
        if (hostname.compare(0, p.size(), p) == 0) {
          char* end = nullptr;
          auto number = std::strtoll(hostname.c_str() + p.size(), &end, 10);
          auto i = number - 1 - first;
          if (*end == '\0' && i >= 0 && i < static_cast<int64_t>(agents->size()))
            return (*agents)[static_cast<size_t>(i)];
        }
        return protocol::make_error(protocol::errc::unknown_agent,
                                    "no agent " + hostname + " in this process");
      },
      [=](protocol::state_atom) {
        fleet_totals t;
        counters->add_to(t);
        return totals_json(t);
      },
  };
}

// -- one fleet process ---------------------------------------------------------------------

/// Runs agents [first, last) in an actor system of their own until `wait`
/// returns. Returns the exit status.
int run_process(const fleet_options& opts, int64_t process, int64_t first, int64_t last,
                fleet_counters* counters, const std::function<void(const std::string&)>& log,
                const std::function<void()>& wait) {
  caf::actor_system_config cfg;
  protocol::announce(cfg);
  protocol::load_transport(cfg, opts.tls);
  // CAF's default work-stealing scheduler polls for work in a busy loop
  // before its workers sleep; a fleet works in bursts (every agent
  // registers at once), and that polling took the CPU the master on the
  // same machine needed: 100,000 agents registered in 23 s with it, in
  // 5.5 s with the sharing scheduler, whose idle workers block
  // (docs/scale.md). Task throughput is the same with either.
  cfg.set("scheduler.policy",
          opts.scheduler == "stealing" ? caf::atom("stealing") : caf::atom("sharing"));
  caf::actor_system sys{cfg};
  auto agent_cfg = std::make_shared<fleet_agent_config>(opts.agent);
  agent_cfg->counters = counters;
  agent_cfg->log = log;
  auto agents = std::make_shared<std::vector<caf::actor>>();
  agents->reserve(static_cast<size_t>(last - first));
  std::shared_ptr<const fleet_agent_config> shared = agent_cfg;
  for (int64_t i = first; i < last; ++i) agents->push_back(spawn_fleet_agent(sys, shared, i));
  std::shared_ptr<const std::vector<caf::actor>> all = agents;
  auto conn = sys.spawn(connector, all, opts.master, opts.register_rate, counters, log);
  caf::actor dir;
  if (opts.actor_port >= 0) {
    dir = sys.spawn(directory, all, first, opts.agent.hostname_prefix, counters);
    auto port = opts.actor_port == 0 ? 0 : static_cast<uint16_t>(opts.actor_port + process);
    auto published = protocol::publish(sys, dir, port, opts.ip);
    if (!published) {
      std::cerr << program << ": error: cannot publish the directory actor on " << opts.ip << ":"
                << port << ": " << sys.render(published.error()) << "\n";
      caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(dir, caf::exit_reason::user_shutdown);
      for (auto& a : *agents) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      return 1;
    }
    if (!opts.quiet)
      std::printf("%s: directory actor of %s..%s on %s:%u\n", program,
                  fleet_hostname(opts.agent.hostname_prefix, first).c_str(),
                  fleet_hostname(opts.agent.hostname_prefix, last - 1).c_str(), opts.ip.c_str(),
                  static_cast<unsigned>(*published));
    std::fflush(stdout);
  }
  wait();
  // Like a set of crashed agents, as far as the master can tell: the
  // protocol has no unregistration. The connection closes with the system.
  caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
  if (dir) caf::anon_send_exit(dir, caf::exit_reason::user_shutdown);
  for (auto& a : *agents) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return 0;
}

// -- the status line -----------------------------------------------------------------------

/// Prints the status line every `interval` (unless quiet), and once when
/// every agent has registered (and again after they had to re-register).
class status_reporter {
 public:
  status_reporter(const fleet_options& opts, fleet_counters* blocks, size_t n)
      : opts_(opts), blocks_(blocks), n_(n) {}

  void tick(const std::vector<pid_t>& pids) {
    fleet_totals t;
    for (size_t i = 0; i < n_; ++i) blocks_[i].add_to(t);
    auto now = std::chrono::steady_clock::now();
    bool all = t.registered >= opts_.agents;
    if (all && !all_) {
      auto secs = std::chrono::duration<double>(now - since_).count();
      note(std::string(again_ ? "all agents registered again " : "all agents registered ") +
           format_seconds(secs) + (again_ ? " after the first left" : " after start") + "; rss " +
           format_mib(pids) + " MiB");
    } else if (!all && all_) {
      since_ = now;
      again_ = true;
    }
    all_ = all;
    if (now >= next_) {
      next_ = now + opts_.status_interval;
      if (!opts_.quiet)
        std::fprintf(stderr, "%s: %s\n", program,
                     status_line(t, opts_.agents, static_cast<double>(rss(pids)) / 1024).c_str());
    }
  }

 private:
  void note(const std::string& line) {
    if (!opts_.quiet) std::fprintf(stderr, "%s: %s\n", program, line.c_str());
  }
  static std::string format_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "in %.2f s", s);
    return buf;
  }
  std::string format_mib(const std::vector<pid_t>& pids) const {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", static_cast<double>(rss(pids)) / 1024);
    return buf;
  }
  static int64_t rss(const std::vector<pid_t>& pids) {
    int64_t kib = 0;
    for (auto p : pids) kib += rss_kib(p);
    return kib;
  }

  const fleet_options& opts_;
  fleet_counters* blocks_;
  size_t n_;
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point next_ = since_ + opts_.status_interval;
  bool all_ = false;
  bool again_ = false;
};

sigset_t wait_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  return set;
}

/// Waits up to `timeout` for SIGINT, SIGTERM or SIGCHLD; returns the signal
/// or 0.
int wait_signal(std::chrono::milliseconds timeout) {
  auto set = wait_set();
  timespec ts{static_cast<time_t>(timeout.count() / 1000),
              static_cast<long>(timeout.count() % 1000) * 1000000L};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig < 0 ? 0 : sig;
}

/// Raises the soft limit of open files to the hard limit. Returns the limit.
rlim_t raise_nofile(bool quiet) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    auto before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) == 0) {
      if (!quiet)
        std::fprintf(stderr, "%s: open-files limit raised from %llu to %llu\n", program,
                     static_cast<unsigned long long>(before),
                     static_cast<unsigned long long>(rl.rlim_max));
    } else {
      std::fprintf(stderr, "%s: warning: cannot raise the open-files limit from %llu to %llu: %s\n",
                   program, static_cast<unsigned long long>(before),
                   static_cast<unsigned long long>(rl.rlim_max), std::strerror(errno));
      ::getrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  return rl.rlim_cur;
}

/// Returns how many more processes this user may start (RLIM_INFINITY: no limit).
rlim_t process_room() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NPROC, &rl) != 0) return RLIM_INFINITY;
  return rl.rlim_cur;
}

/// Stops the children (SIGTERM, then SIGKILL after `grace`) and reaps them.
void stop_children(std::vector<pid_t>& pids, std::chrono::milliseconds grace) {
  for (auto p : pids)
    if (p > 0) ::kill(p, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& p : pids) {
    while (p > 0) {
      int status = 0;
      auto r = ::waitpid(p, &status, WNOHANG);
      if (r == p || (r < 0 && errno == ECHILD)) {
        p = -1;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(p, SIGKILL);
        ::waitpid(p, &status, 0);
        p = -1;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

}  // namespace

int run_fleet(int argc, char** argv) {
  // SIGINT/SIGTERM (and, for the parent of --processes, SIGCHLD) are taken
  // with `sigtimedwait`: blocked before any thread or child starts.
  block_termination_signals();
  {
    auto set = wait_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  fleet_options opts;
  std::string ignored;
  protocol::resources::parse("cpus:8;mem:32GiB;disk:100GiB;ports:[31000-32000]",
                             opts.agent.resources, ignored);
  int64_t seed = 0;
  int64_t max_missed_pings = opts.agent.max_missed_pings;
  cli::flags f{program,
               "Runs N simulated agents that register with a real master and run simulated "
               "tasks (no processes): `sleep X` lasts X seconds, `exit N` ends with status N, "
               "other commands last --task-duration. See docs/scale.md."};
  f.add("master", &opts.master,
        "the master's actor endpoint HOST:PORT, or zk://HOST:PORT[,...]/PATH to follow the "
        "leader");
  f.add("agents", &opts.agents, "number of simulated agents");
  f.add("racks", &opts.agent.racks, "agents are spread over this many racks (attribute rack:rN)");
  f.add("zones", &opts.agent.zones,
        "racks are spread over this many zones (attribute zone:zN; 0: no zone attribute)");
  f.add_custom("attributes", "", "attributes every agent has, e.g. os:linux;pool:batch",
               [&opts](const std::string& v, std::string& err) {
                 return protocol::parse_attributes(v, opts.agent.attributes, err);
               });
  f.add_custom("agent-resources", opts.agent.resources.to_string(), "resources of each agent",
               [&opts](const std::string& v, std::string& err) {
                 return protocol::resources::parse(v, opts.agent.resources, err);
               });
  f.add_custom("task-duration", opts.agent.task_duration.to_string(),
               "how long tasks last whose command is not `sleep X`, `exit N`, `true` or "
               "`false`: a duration (2s, 500ms), uniform:MIN:MAX or exp:MEAN",
               [&opts](const std::string& v, std::string& err) {
                 return duration_dist::parse(v, opts.agent.task_duration, err);
               });
  f.add("hostname-prefix", &opts.agent.hostname_prefix,
        "agents are called PREFIX-00001, PREFIX-00002, ...");
  f.add_custom("register-rate", "max",
               "agents that (re-)register per second after a (re)connection: R/s, or max",
               [&opts](const std::string& v, std::string& err) {
                 return parse_register_rate(v, opts.register_rate, err);
               });
  f.add("processes", &opts.processes,
        "processes the agents are spread over, each with its own actor system and connection "
        "to the master (CAF shares one connection per process)");
  f.add("status-interval", &opts.status_interval, "how often the status line is printed");
  f.add("quiet", &opts.quiet, "print nothing but fatal errors");
  f.add("status-retry-interval", &opts.agent.status_retry_interval,
        "an unacknowledged status update is re-sent after this long, then at doubling intervals");
  f.add("status-retry-max", &opts.agent.status_retry_max, "the longest retry interval");
  f.add("register-timeout", &opts.agent.register_timeout,
        "timeout of one (re-)registration request");
  std::string secret_file;
  f.add("principal", &opts.agent.principal,
        "authenticate every agent to the master as this principal (with --secret-file)");
  f.add("secret-file", &secret_file, "file holding the principal's secret (owner-only)");
  f.add("max-missed-pings", &max_missed_pings,
        "re-register when the master has not pinged for this many ping intervals (0: never)");
  f.add("seed", &seed, "seed of the task-duration draws and uuids (0: random)");
  f.add("actor-port", &opts.actor_port,
        "publish a directory actor (agent handles by hostname, figures as JSON) on this port, "
        "for tests (0: any free port; -1: none; with --processes, process i uses PORT+i)");
  f.add("ip", &opts.ip, "address the directory actor listens on");
  f.add("scheduler", &opts.scheduler,
        "CAF scheduler of each fleet process: sharing (idle workers block) or stealing (CAF's "
        "default: idle workers poll, which costs the master CPU on a shared machine)");
  cli::add_tls_flags(f, &opts.tls.cert_file, &opts.tls.key_file, &opts.tls.ca_file);
  f.parse_or_exit(argc, argv, 2);
  std::string error;
  auto& a = opts.agent;
  if (!f.positional().empty()) error = "unexpected argument '" + f.positional()[0] + "'";
  if (opts.agents < 1 || opts.agents > 1000000) error = "--agents: must be between 1 and 1000000";
  if (a.racks < 1 || a.racks > opts.agents) error = "--racks: must be between 1 and --agents";
  if (a.zones < 0 || a.zones > a.racks) error = "--zones: must be between 0 and --racks";
  if (a.resources.empty()) error = "--agent-resources: must not be empty";
  if (auto why = a.resources.limit_error(); !why.empty()) error = "--agent-resources: " + why;
  if (a.hostname_prefix.empty() ||
      a.hostname_prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789-.") != std::string::npos)
    error = "--hostname-prefix: letters, digits, '-' and '.' only";
  if (opts.processes < 1 || opts.processes > opts.agents || opts.processes > 256)
    error = "--processes: must be between 1 and min(256, --agents)";
  if (opts.scheduler != "sharing" && opts.scheduler != "stealing")
    error = "--scheduler: must be sharing or stealing";
  if (opts.status_interval < 100ms) error = "--status-interval: must be at least 100ms";
  if (a.status_retry_interval < 10ms) error = "--status-retry-interval: must be at least 10ms";
  if (a.status_retry_max < a.status_retry_interval)
    error = "--status-retry-max: must not be below --status-retry-interval";
  if (a.register_timeout < 100ms) error = "--register-timeout: must be at least 100ms";
  if (max_missed_pings < 0 || max_missed_pings > 1000)
    error = "--max-missed-pings: must be between 0 and 1000";
  if (opts.actor_port < -1 || opts.actor_port + opts.processes - 1 > 65535)
    error = "--actor-port: must be -1, 0 or a port (PORT + --processes - 1 at most 65535)";
  if (std::string why; error.empty() && !discovery::check_master_spec(opts.master, why))
    error = "--master: " + why;
  if (error.empty())
    error = auth::read_client_secret(opts.agent.principal, secret_file, true, opts.agent.secret);
  if (error.empty()) error = protocol::check_tls_options(opts.tls);
  if (!error.empty()) {
    std::cerr << program << ": error: " << error << "\n"
              << "run '" << program << " --help' for the list of flags\n";
    return 2;
  }
  a.max_missed_pings = static_cast<int>(max_missed_pings);
  a.seed = seed != 0
               ? static_cast<uint64_t>(seed)
               : (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();

  // Every agent of a process shares its one connection; processes share
  // nothing but this (each has its own actor system and connection).
  auto nofile = raise_nofile(opts.quiet);
  // A process needs a few dozen descriptors (its connection, the
  // middleman's pipes, ZooKeeper's socket and the scheduler's).
  if (nofile != 0 && nofile < 64) {
    std::cerr << program << ": error: the open-files limit is " << nofile
              << ", below the 64 a fleet process needs; raise it (ulimit -n)\n";
    return 1;
  }
  auto room = process_room();
  if (room != RLIM_INFINITY && static_cast<rlim_t>(opts.processes) >= room) {
    std::cerr << program << ": error: --processes " << opts.processes
              << " does not fit the process limit of " << room << " (ulimit -u)\n";
    return 1;
  }
  auto n = static_cast<size_t>(opts.processes);
  void* mem = ::mmap(nullptr, sizeof(fleet_counters) * n, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::cerr << program
              << ": error: cannot map shared memory for the figures: " << std::strerror(errno)
              << "\n";
    return 1;
  }
  auto* blocks = static_cast<fleet_counters*>(mem);
  for (size_t i = 0; i < n; ++i) new (&blocks[i]) fleet_counters;
  auto limiter = std::make_shared<line_limiter>(20);
  std::function<void(const std::string&)> log;
  if (!opts.quiet) log = [limiter](const std::string& line) { (*limiter)(line); };
  if (!opts.quiet)
    std::fprintf(
        stderr, "%s: %lld agents (%s..%s, %s) on %lld racks in %lld process%s, master %s\n",
        program, static_cast<long long>(opts.agents), fleet_hostname(a.hostname_prefix, 0).c_str(),
        fleet_hostname(a.hostname_prefix, opts.agents - 1).c_str(), a.resources.to_string().c_str(),
        static_cast<long long>(a.racks), static_cast<long long>(opts.processes),
        opts.processes == 1 ? "" : "es", opts.master.c_str());
  status_reporter reporter{opts, blocks, n};

  if (opts.processes == 1) {
    std::vector<pid_t> self{::getpid()};
    int ticks = 0;
    return run_process(opts, 0, 0, opts.agents, blocks, log, [&] {
      for (;;) {
        int sig = wait_signal(100ms);
        if (sig == SIGINT || sig == SIGTERM) {
          if (!opts.quiet) std::fprintf(stderr, "%s: stopping on signal %d\n", program, sig);
          return;
        }
        if (++ticks % 10 == 0) sample_heap(*blocks);
        reporter.tick(self);
      }
    });
  }

  // --processes: a child per share of the agents, forked before any thread
  // exists (so no lock is held across the fork), each with its own actor
  // system and connection; the parent only sums their figures.
  std::fflush(nullptr);
  std::vector<pid_t> pids;
  auto parent = ::getpid();
  for (int64_t i = 0; i < opts.processes; ++i) {
    auto [first, last] = agent_range(opts.agents, opts.processes, i);
    pid_t pid = ::fork();
    if (pid < 0) {
      std::cerr << program << ": error: cannot start process " << i + 1 << " of " << opts.processes
                << ": " << std::strerror(errno) << "\n";
      stop_children(pids, 5s);
      return 1;
    }
    if (pid == 0) {
      // A child ends with its parent, even one killed with SIGKILL.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) std::_Exit(0);
      int rc = run_process(opts, i, first, last, &blocks[i], log, [block = &blocks[i]] {
        for (;;) {
          sample_heap(*block);
          int sig = wait_signal(1000ms);
          if (sig == SIGINT || sig == SIGTERM) return;
        }
      });
      std::fflush(nullptr);
      std::_Exit(rc);
    }
    pids.push_back(pid);
  }
  auto live = pids;
  int rc = 0;
  for (;;) {
    int sig = wait_signal(100ms);
    if (sig == SIGINT || sig == SIGTERM) {
      if (!opts.quiet) std::fprintf(stderr, "%s: stopping on signal %d\n", program, sig);
      break;
    }
    bool lost = false;
    for (size_t i = 0; i < live.size(); ++i) {
      int status = 0;
      if (live[i] > 0 && ::waitpid(live[i], &status, WNOHANG) == live[i]) {
        auto [first, last] = agent_range(opts.agents, opts.processes, static_cast<int64_t>(i));
        std::fprintf(stderr, "%s: error: process %zu (pid %d, agents %s..%s) %s; stopping\n",
                     program, i + 1, static_cast<int>(live[i]),
                     fleet_hostname(a.hostname_prefix, first).c_str(),
                     fleet_hostname(a.hostname_prefix, last - 1).c_str(),
                     describe_wait_status(status).c_str());
        live[i] = -1;
        lost = true;
      }
    }
    if (lost) {
      rc = 1;
      break;
    }
    std::vector<pid_t> running;
    for (auto p : live)
      if (p > 0) running.push_back(p);
    reporter.tick(running);
  }
  stop_children(live, 10s);
  return rc;
}

}  // namespace agora::main::fleet
