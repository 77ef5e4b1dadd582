// agora-failover-bench: how long a highly available Agora cluster takes to
// recover from a kill -9 of its leading master. Real processes on 127.0.0.1:
// a 3-server ZooKeeper ensemble, two `agora-master --zk` processes, N
// `agora-agent` processes following the leader, and one framework (a
// scheduler driver in this process) following the leader too. See
// docs/BENCHMARKS.md, "Master failover".
//
// From the kill it measures (a) until the standby's /health says "leader",
// (b) until the new leader's /state lists every agent active and (c) until
// the framework receives an offer named after the new leader; it also
// reports when ZooKeeper named the new leader (what agents and drivers see)
// and the CPU use of the idle cluster, and a process-spawn baseline.
//
// Usage: agora-failover-bench [--agents 10,100] [--session-timeouts 2s,10s]
//        [--runs 3] [--timeout 120s]

#include <signal.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/cli/flags.hpp"
#include "agora/discovery/master_info.hpp"
#include "agora/main/spawn_baseline.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/messages.hpp"
#include "agora/scheduler/driver.hpp"
#include "agora/test/support.hpp"
#include "agora/test/zookeeper_ensemble.hpp"
#include "agora/zk/leader_detector.hpp"

extern char** environ;

namespace agora::bench {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// -- interruption ------------------------------------------------------------------

// Set by SIGINT/SIGTERM: every wait gives up, so the destructors stop the
// child processes (which live in their own process groups).
std::atomic<bool> interrupted{false};

void on_signal(int) { interrupted = true; }

// -- small helpers -----------------------------------------------------------------

double seconds_since(clock_type::time_point t0, clock_type::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

std::string duration_text(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

/// Returns the values' median (the mean of the middle two for an even count).
double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  size_t n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/// Returns the `q` quantile (nearest rank) of `xs`; 0 when empty.
double quantile(std::vector<double> xs, double q) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  auto rank = static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(rank, xs.size() - 1)];
}

/// Returns "median (min–max)" of `xs` in seconds, or "n/a" when empty.
std::string summary_text(const std::vector<double>& xs) {
  if (xs.empty()) return "n/a";
  char buf[96];
  auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  std::snprintf(buf, sizeof(buf), "%.2f s (%.2f–%.2f)", median(xs), *lo, *hi);
  return buf;
}

/// Returns the value of the first line of `path` starting with `key`, after
/// its colon, trimmed ("" if none).
std::string proc_field(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    return first == std::string::npos ? "" : value.substr(first);
  }
  return {};
}

/// Returns the machine's description: cores, CPU model, memory, kernel, load.
std::string machine_text() {
  std::ostringstream out;
  utsname u{};
  ::uname(&u);
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  char loadbuf[64];
  std::snprintf(loadbuf, sizeof(loadbuf), "%.2f %.2f %.2f", load[0], load[1], load[2]);
  out << "machine: nproc=" << ::sysconf(_SC_NPROCESSORS_ONLN) << ", model name \""
      << proc_field("/proc/cpuinfo", "model name") << "\", MemTotal "
      << proc_field("/proc/meminfo", "MemTotal") << ", kernel " << u.release << ", load average "
      << loadbuf;
  return out.str();
}

/// Returns the CPU time (user + system, in clock ticks) of the whole machine
/// (`pid` 0, from /proc/stat, with the idle time in `idle`) or of process
/// `pid` (from /proc/<pid>/stat).
uint64_t cpu_ticks(pid_t pid, uint64_t* idle = nullptr) {
  if (pid == 0) {
    std::ifstream in("/proc/stat");
    std::string cpu;
    uint64_t user = 0, nice = 0, system = 0, idle_ticks = 0, iowait = 0, irq = 0, softirq = 0;
    in >> cpu >> user >> nice >> system >> idle_ticks >> iowait >> irq >> softirq;
    if (idle != nullptr) *idle = idle_ticks + iowait;
    return user + nice + system + irq + softirq;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  // Fields 3..13 of stat(5), then utime (14) and stime (15).
  for (int i = 3; i <= 13 && rest >> field; ++i) {
  }
  rest >> utime >> stime;
  return utime + stime;
}

/// How busy the machine and the agent processes were over an interval, in
/// cores (2.0 = both cores of a 2-core machine).
struct cpu_use {
  double machine = 0;
  double agents = 0;
};

/// Returns the CPU use of the machine and of `agent_pids` over `interval`.
cpu_use measure_cpu(const std::vector<pid_t>& agent_pids, milliseconds interval) {
  auto agents_total = [&] {
    uint64_t sum = 0;
    for (auto pid : agent_pids) sum += cpu_ticks(pid);
    return sum;
  };
  uint64_t idle0 = 0, idle1 = 0;
  uint64_t busy0 = cpu_ticks(0, &idle0);
  uint64_t agents0 = agents_total();
  auto t0 = clock_type::now();
  test::wait_until([] { return interrupted.load(); }, interval);
  double wall = seconds_since(t0, clock_type::now());
  uint64_t busy1 = cpu_ticks(0, &idle1);
  uint64_t agents1 = agents_total();
  double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  cpu_use u;
  if (wall > 0) {
    u.machine = static_cast<double>(busy1 - busy0) / tick / wall;
    u.agents = static_cast<double>(agents1 - agents0) / tick / wall;
  }
  return u;
}

/// Returns the parsed JSON of `GET path` on 127.0.0.1:`port`, or nullopt.
std::optional<rapidjson::Document> get_json(uint16_t port, const std::string& path,
                                            milliseconds timeout = 2000ms) {
  auto r = test::http_get("127.0.0.1", port, path, timeout);
  if (r.status != 200) return std::nullopt;
  rapidjson::Document d;
  if (d.Parse(r.body.c_str()).HasParseError() || !d.IsObject()) return std::nullopt;
  return d;
}

/// Returns the role a master's /health reports ("leader", "standby"), "" if
/// it does not answer.
std::string role_of(uint16_t http_port) {
  auto d = get_json(http_port, "/health", 1000ms);
  if (!d || !d->HasMember("role") || !(*d)["role"].IsString()) return {};
  return (*d)["role"].GetString();
}

/// Returns the hostnames of the active agents in a master's /state.
std::vector<std::string> active_hostnames(const rapidjson::Document& s) {
  std::vector<std::string> out;
  if (!s.HasMember("agents") || !s["agents"].IsArray()) return out;
  for (const auto& a : s["agents"].GetArray())
    if (a.HasMember("active") && a["active"].IsBool() && a["active"].GetBool() &&
        a.HasMember("hostname") && a["hostname"].IsString())
      out.emplace_back(a["hostname"].GetString());
  return out;
}

// -- the framework -------------------------------------------------------------------

/// An offer and when this process received it.
struct timed_offer {
  std::string id;
  clock_type::time_point received;
};

/// A framework in this process: a scheduler driver following the leader
/// through ZooKeeper, forwarding to a blocking actor that the benchmark reads
/// with bounded waits. It never declines, so it holds what it was offered.
class bench_framework {
 public:
  bench_framework(caf::actor_system& sys, const std::string& zk_url) : self_(sys) {
    scheduler::driver_config cfg;
    cfg.master_url = zk_url;
    cfg.framework.name = "failover-bench";
    cfg.framework.roles = {"*"};
    cfg.framework.failover_timeout_ms = 3600 * 1000;
    driver_ = scheduler::spawn_driver(sys, cfg, caf::actor_cast<caf::actor>(self_));
  }

  ~bench_framework() { caf::anon_send_exit(driver_, caf::exit_reason::user_shutdown); }

  bench_framework(const bench_framework&) = delete;
  bench_framework& operator=(const bench_framework&) = delete;

  /// Returns true once subscribed and offered something, false after `timeout`.
  bool wait_ready(milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    while ((framework_id_.empty() || offers_.empty()) && clock_type::now() < deadline &&
           !interrupted)
      receive_for(50ms);
    return !framework_id_.empty() && !offers_.empty();
  }

  /// Handles the messages that arrive within `duration`.
  void receive_for(milliseconds duration) {
    auto deadline = clock_type::now() + duration;
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0 || !receive_one(left)) return;
    }
  }

  /// Returns the offers received so far and forgets them.
  std::vector<timed_offer> take_offers() { return std::exchange(offers_, {}); }

  const std::string& framework_id() const { return framework_id_; }

 private:
  bool receive_one(milliseconds timeout) {
    bool got = true;
    self_->receive([&](protocol::subscribed& s) { framework_id_ = s.framework_id; },
                   [&](protocol::offers_msg& m) {
                     auto now = clock_type::now();
                     for (auto& o : m.offers) offers_.push_back({o.id, now});
                   },
                   [&](protocol::rescind_offer&) {}, [&](protocol::status_update&) {},
                   [&](scheduler::disconnected_msg&) {},
                   [&](protocol::framework_error& e) {
                     std::cerr << "framework error: " << e.message << "\n";
                   },
                   caf::after(timeout) >> [&] { got = false; });
    return got;
  }

  caf::scoped_actor self_;
  caf::actor driver_;
  std::string framework_id_;
  std::vector<timed_offer> offers_;
};

// -- what ZooKeeper says -------------------------------------------------------------

/// Records when ZooKeeper names each leader: what agents and scheduler
/// drivers learn (through the same `zk::leader_detector`), which can be
/// earlier than the moment the elected master serves as leader.
class leader_watch {
 public:
  /// Starts following the election under `url`; false with `error` if not.
  bool start(const std::string& url, std::string& error) {
    auto parsed = zk::zk_url::parse(url);
    if (!parsed) {
      error = parsed.err().message;
      return false;
    }
    auto detector = zk::leader_detector::start(
        parsed.value(), [this](const std::optional<zk::leader_info>& leader) {
          uint16_t port = 0;
          discovery::master_info info;
          std::string ignored;
          if (leader && discovery::master_info::from_json(leader->data, info, ignored))
            port = info.actor_port;
          std::lock_guard<std::mutex> guard{mtx_};
          reports_.emplace_back(clock_type::now(), port);
        });
    if (!detector) {
      error = detector.err().message;
      return false;
    }
    detector_ = std::move(detector.value());
    return true;
  }

  /// Returns when, at or after `since`, ZooKeeper first named the master on
  /// `actor_port` the leader (nullopt: not yet).
  std::optional<clock_type::time_point> named(uint16_t actor_port,
                                              clock_type::time_point since) const {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& [t, port] : reports_)
      if (t >= since && port == actor_port) return t;
    return std::nullopt;
  }

 private:
  mutable std::mutex mtx_;
  std::vector<std::pair<clock_type::time_point, uint16_t>> reports_;
  // Last: stopped (its thread joined) before the reports go.
  std::unique_ptr<zk::leader_detector> detector_;
};

// -- the cluster ---------------------------------------------------------------------

struct master_process {
  std::unique_ptr<test::child_process> proc;
  uint16_t http_port = 0;
  uint16_t actor_port = 0;
};

/// Two masters and N agents on one ZooKeeper path of a shared ensemble.
class bench_cluster {
 public:
  bench_cluster(std::string zk_url, std::vector<std::string> master_flags)
      : dir_("agora-failover-bench"),
        url_(std::move(zk_url)),
        master_flags_(std::move(master_flags)) {}

  ~bench_cluster() {
    // SIGTERM everyone first, so that the agents exit in parallel.
    for (auto& a : agents_) a->signal(SIGTERM);
    for (auto& a : agents_) a->terminate(5s);
    for (auto& m : masters_)
      if (m.proc) m.proc->terminate(5s);
  }

  const std::string& url() const { return url_; }
  master_process& master(size_t i) { return masters_.at(i); }

  /// Returns the agents' process ids.
  std::vector<pid_t> agent_pids() const {
    std::vector<pid_t> out;
    for (const auto& a : agents_) out.push_back(a->pid());
    return out;
  }

  /// Starts master `i` on fresh ports and waits until its /health answers.
  bool start_master(size_t i, std::string& error) {
    if (masters_.size() <= i) masters_.resize(i + 1);
    auto& m = masters_[i];
    m.http_port = test::free_port();
    m.actor_port = test::free_port();
    std::vector<std::string> args = {"--zk=" + url_, "--port=" + std::to_string(m.http_port),
                                     "--actor-port=" + std::to_string(m.actor_port)};
    args.insert(args.end(), master_flags_.begin(), master_flags_.end());
    m.proc = std::make_unique<test::child_process>();
    if (!m.proc->start(test::binary_path("agora-master"), args, {}, &error)) return false;
    if (!test::wait_until([&] { return interrupted || !role_of(m.http_port).empty(); }, 20s) ||
        interrupted) {
      error = "agora-master did not answer /health: " + m.proc->describe();
      return false;
    }
    return true;
  }

  /// Waits until master `i` reports `role`.
  bool wait_role(size_t i, const std::string& role, milliseconds timeout) {
    uint16_t port = masters_.at(i).http_port;
    return test::wait_until([&] { return interrupted || role_of(port) == role; }, timeout) &&
           !interrupted;
  }

  /// Starts `n` agents at once and waits until master `leader` lists all of
  /// them active.
  bool start_agents(size_t n, size_t leader, std::string& error) {
    for (size_t i = 0; i < n; ++i) {
      std::string name = "agent-" + std::to_string(i);
      auto p = std::make_unique<test::child_process>();
      std::vector<std::string> args = {"--master=" + url_,
                                       "--resources=cpus:1;mem:256MiB;disk:256MiB",
                                       "--work-dir=" + dir_.file(name),
                                       "--port=0",
                                       "--actor-port=0",
                                       "--hostname=" + name};
      if (!p->start(test::binary_path("agora-agent"), args, {}, &error)) return false;
      agents_.push_back(std::move(p));
    }
    auto timeout = 60s + milliseconds(200) * static_cast<int64_t>(n);
    uint16_t port = masters_.at(leader).http_port;
    size_t seen = 0;
    bool ok = test::wait_until(
        [&] {
          if (interrupted) return true;
          auto s = get_json(port, "/state");
          seen = s ? active_hostnames(*s).size() : seen;
          return seen >= n;
        },
        timeout, 100ms);
    if (!ok || interrupted) {
      error = std::to_string(seen) + " of " + std::to_string(n) + " agents registered";
      return false;
    }
    return true;
  }

 private:
  test::temp_dir dir_;
  std::string url_;
  std::vector<std::string> master_flags_;
  std::vector<master_process> masters_;
  std::vector<std::unique_ptr<test::child_process>> agents_;
};

// -- one failover --------------------------------------------------------------------

/// What one failover took, in seconds from the kill (-1: not seen in time).
struct sample {
  /// ZooKeeper names the standby the leader (as agents and drivers see it).
  double zk_named = -1;
  /// (a) The standby's /health says "leader".
  double leader = -1;
  /// (b) The new leader's /state lists every agent active.
  double agents = -1;
  /// (c) The framework receives its first offer from the new leader.
  double offer = -1;
  /// When each agent was first seen active at the new leader, from the kill
  /// (polled, so up to one poll late), by hostname.
  std::map<std::string, double> agent_back;
  /// Active agents seen at the new leader when the wait ended.
  size_t active = 0;
};

/// Kills master `leader` with SIGKILL and measures (a), (b) and (c) while
/// master `standby` takes over. HTTP polling runs in its own thread so that
/// the framework's offers are timed as they arrive.
sample measure_failover(bench_cluster& c, bench_framework& fw, const leader_watch& zk_view,
                        size_t leader, size_t standby, size_t agents, milliseconds poll,
                        milliseconds timeout) {
  sample s;
  std::mutex mtx;  // guards `leader_id` and `s.agent_back`
  std::string leader_id;
  std::atomic<bool> poller_done{false};
  std::atomic<bool> stop{false};
  uint16_t port = c.master(standby).http_port;

  // Offers of the old leader are void; forget them before the kill.
  fw.receive_for(50ms);
  fw.take_offers();

  auto t0 = clock_type::now();
  c.master(leader).proc->kill_group(SIGKILL);
  auto deadline = t0 + timeout;

  std::thread poller([&] {
    // (a) The standby's /health says "leader".
    bool elected = test::wait_until(
        [&] {
          if (stop || interrupted) return true;
          if (role_of(port) != "leader") return false;
          s.leader = seconds_since(t0, clock_type::now());
          return true;
        },
        timeout, poll);
    // (b) Its /state lists every agent active (and names it, for (c)).
    if (elected && s.leader >= 0) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_type::now());
      test::wait_until(
          [&] {
            if (stop || interrupted) return true;
            auto st = get_json(port, "/state");
            if (!st) return false;
            auto now = clock_type::now();
            auto active = active_hostnames(*st);
            std::lock_guard<std::mutex> guard{mtx};
            if (leader_id.empty() && st->HasMember("id") && (*st)["id"].IsString())
              leader_id = (*st)["id"].GetString();
            for (const auto& h : active) s.agent_back.emplace(h, seconds_since(t0, now));
            s.active = active.size();
            if (active.size() < agents) return false;
            s.agents = seconds_since(t0, now);
            return true;
          },
          std::max(left, milliseconds{0}), poll);
    }
    poller_done = true;
  });

  // (c) The first offer named after the new leader (`<leader id>-...`).
  std::vector<timed_offer> offers;
  while (clock_type::now() < deadline && !interrupted) {
    fw.receive_for(poll);
    auto more = fw.take_offers();
    offers.insert(offers.end(), more.begin(), more.end());
    std::string id;
    {
      std::lock_guard<std::mutex> guard{mtx};
      id = leader_id;
    }
    if (s.offer < 0 && !id.empty())
      for (const auto& o : offers)
        if (o.id.rfind(id + "-", 0) == 0) {
          s.offer = seconds_since(t0, o.received);
          break;
        }
    if (s.offer >= 0 && poller_done) break;
  }
  stop = true;
  poller.join();
  if (auto t = zk_view.named(c.master(standby).actor_port, t0)) s.zk_named = seconds_since(t0, *t);
  c.master(leader).proc->wait_exit(5s);
  return s;
}

// -- the benchmark -------------------------------------------------------------------

struct config_result {
  size_t agents = 0;
  milliseconds session_timeout{0};
  std::vector<sample> samples;
  std::string failure;
  /// CPU use of the idle cluster before the first failover.
  cpu_use idle_cpu;
};

/// Runs `runs` failovers of a fresh cluster of 2 masters and `agents` agents
/// on its own ZooKeeper path.
config_result run_config(caf::actor_system& sys, test::zookeeper_ensemble& zk, size_t agents,
                         milliseconds session_timeout, int64_t runs, milliseconds poll,
                         milliseconds timeout) {
  config_result result;
  result.agents = agents;
  result.session_timeout = session_timeout;
  std::string tag = std::to_string(agents) + "-" + duration_text(session_timeout);
  std::string url = "zk://" + zk.connect_string() + "/agora/bench-" + tag;
  bench_cluster c{
      url,
      {"--zk-session-timeout=" + duration_text(session_timeout), "--allocation-interval=100ms"}};
  auto fail = [&](const std::string& why) {
    result.failure = why;
    std::cerr << "[" << tag << "] " << why << "\n";
    return result;
  };
  std::string error;
  // The first master leads, the second stands by.
  if (!c.start_master(0, error)) return fail(error);
  if (!c.wait_role(0, "leader", 60s)) return fail("master 0 did not lead");
  if (!c.start_master(1, error)) return fail(error);
  if (!c.wait_role(1, "standby", 30s)) return fail("master 1 did not stand by");
  leader_watch zk_view;
  if (!zk_view.start(url, error)) return fail("cannot follow the election: " + error);
  auto t_agents = clock_type::now();
  if (!c.start_agents(agents, 0, error)) return fail(error);
  std::fprintf(stderr, "[%s] %zu agents registered in %.1f s\n", tag.c_str(), agents,
               seconds_since(t_agents, clock_type::now()));
  bench_framework fw{sys, url};
  if (!fw.wait_ready(60s)) return fail("the framework was not subscribed and offered in 60 s");
  // What the idle cluster costs before the first kill (other load included).
  result.idle_cpu = measure_cpu(c.agent_pids(), 3s);
  std::fprintf(stderr, "[%s] idle cluster: machine busy %.2f cores, agents %.2f cores\n",
               tag.c_str(), result.idle_cpu.machine, result.idle_cpu.agents);

  size_t leader = 0;
  for (int64_t run = 0; run < runs && !interrupted; ++run) {
    size_t standby = 1 - leader;
    if (role_of(c.master(leader).http_port) != "leader" ||
        role_of(c.master(standby).http_port) != "standby")
      return fail("run " + std::to_string(run) + ": master " + std::to_string(leader) +
                  " does not lead with master " + std::to_string(standby) + " standing by");
    auto s = measure_failover(c, fw, zk_view, leader, standby, agents, poll, timeout);
    // Per agent: seconds from the election to its re-registration.
    std::vector<double> back;
    std::string slowest;
    double slowest_t = -1;
    for (const auto& [host, t] : s.agent_back) {
      back.push_back(t - s.leader);
      if (t > slowest_t) {
        slowest_t = t;
        slowest = host;
      }
    }
    std::fprintf(stderr,
                 "[%s] run %lld: ZooKeeper names the new leader %.3f s, (a) leader %.3f s, (b) all "
                 "agents %.3f s (%zu/%zu active), "
                 "(c) first offer %.3f s; agents after the election: p50 %.3f s, p90 %.3f s, "
                 "max %.3f s (%s)\n",
                 tag.c_str(), static_cast<long long>(run), s.zk_named, s.leader, s.agents, s.active,
                 agents, s.offer, quantile(back, 0.5), quantile(back, 0.9), quantile(back, 1.0),
                 slowest.c_str());
    bool complete = s.leader >= 0 && s.agents >= 0 && s.offer >= 0;
    result.samples.push_back(std::move(s));
    if (!complete) {
      return fail("run " + std::to_string(run) + " did not complete within " +
                  duration_text(timeout) + "\nZooKeeper:\n" + zk.describe() + "\nthe standby:\n" +
                  c.master(standby).proc->describe());
    }
    // The killed master comes back as the new standby.
    if (!c.start_master(leader, error)) return fail(error);
    if (!c.wait_role(leader, "standby", 30s)) return fail("the restarted master did not stand by");
    leader = standby;
  }
  return result;
}

std::string config_row(const config_result& r) {
  std::vector<double> z, a, b, ba, c;
  for (const auto& s : r.samples) {
    if (s.leader < 0 || s.agents < 0 || s.offer < 0) continue;
    if (s.zk_named >= 0) z.push_back(s.zk_named);
    a.push_back(s.leader);
    b.push_back(s.agents);
    ba.push_back(s.agents - s.leader);
    c.push_back(s.offer);
  }
  std::ostringstream out;
  out << "| " << r.agents << " | " << duration_text(r.session_timeout) << " | " << a.size() << " | "
      << summary_text(z) << " | " << summary_text(a) << " | " << summary_text(b) << " | "
      << summary_text(ba) << " | " << summary_text(c) << " | ";
  char cpu[64];
  std::snprintf(cpu, sizeof(cpu), "%.2f / %.2f |", r.idle_cpu.machine, r.idle_cpu.agents);
  out << cpu;
  if (!r.failure.empty()) out << " failed: " << r.failure.substr(0, r.failure.find('\n'));
  return out.str();
}

bool parse_list(const std::string& text, std::vector<std::string>& out, std::string& error) {
  out.clear();
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  if (out.empty()) error = "'" + text + "' is an empty list";
  return !out.empty();
}

}  // namespace
}  // namespace agora::bench

int main(int argc, char** argv) {
  using namespace agora;
  using namespace agora::bench;
  std::vector<int64_t> agent_counts = {10, 100};
  std::vector<milliseconds> timeouts = {2s, 10s};
  int64_t runs = 3;
  int64_t spawns = 1000;
  milliseconds poll = 20ms;
  milliseconds timeout = 120s;
  cli::flags f{"agora-failover-bench",
               "Kills the leading master (SIGKILL) of a real HA cluster (3 ZooKeeper servers, "
               "2 masters, N agents, 1 framework) and measures, from the kill: (a) until the "
               "standby reports leader, (b) until the new leader lists every agent active, "
               "(c) until the framework receives an offer from the new leader."};
  f.add_custom("agents", "10,100", "agent counts, one configuration each",
               [&](const std::string& v, std::string& err) {
                 std::vector<std::string> items;
                 if (!parse_list(v, items, err)) return false;
                 agent_counts.clear();
                 for (const auto& x : items) {
                   char* end = nullptr;
                   long long n = std::strtoll(x.c_str(), &end, 10);
                   if (end == x.c_str() || *end != '\0' || n < 1 || n > 5000) {
                     err = "'" + x + "' is not an agent count in 1..5000";
                     return false;
                   }
                   agent_counts.push_back(n);
                 }
                 return true;
               });
  f.add_custom("session-timeouts", "2s,10s", "masters' --zk-session-timeout values",
               [&](const std::string& v, std::string& err) {
                 std::vector<std::string> items;
                 if (!parse_list(v, items, err)) return false;
                 timeouts.clear();
                 for (const auto& x : items) {
                   milliseconds d{0};
                   if (!cli::parse_duration(x, d, err)) return false;
                   if (d < 1s || d > 60s) {
                     err = "'" + x + "' is outside ZooKeeper's 1s..60s here";
                     return false;
                   }
                   timeouts.push_back(d);
                 }
                 return true;
               });
  f.add("runs", &runs, "failovers per configuration (medians are reported)");
  f.add("spawns", &spawns, "/bin/true processes of the spawn baseline");
  f.add("poll-interval", &poll, "how often /health and /state are polled");
  f.add("timeout", &timeout, "longest wait for one failover");
  f.parse_or_exit(argc, argv);
  if (runs < 1 || spawns < 1 || poll.count() < 1 || timeout < 1s) {
    std::cerr << "agora-failover-bench: error: --runs, --spawns, --poll-interval and --timeout "
                 "must be positive\n";
    return 2;
  }
  if (!test::zookeeper_server::available()) {
    std::cerr << "agora-failover-bench: ZooKeeper is not installed (Debian package "
                 "`zookeeper`; scripts/install-deps.sh installs it)\n";
    return 1;
  }
  for (const char* b : {"agora-master", "agora-agent"})
    if (!test::binary_exists(b)) {
      std::cerr << "agora-failover-bench: " << test::binary_path(b) << " is missing\n";
      return 1;
    }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  std::printf("%s\n", machine_text().c_str());
  double spawn_before = main::spawn_rate(static_cast<int>(spawns));
  std::printf("spawn baseline (before): %.0f /bin/true spawns/s (%lld, one at a time)\n",
              spawn_before, static_cast<long long>(spawns));
  std::fflush(stdout);

  test::zookeeper_ensemble zk{3};
  std::string error;
  if (!zk.start(90s, &error)) {
    std::cerr << "agora-failover-bench: the ZooKeeper ensemble did not start: " << error << "\n";
    return 1;
  }
  caf::actor_system_config cfg;
  protocol::announce(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};

  std::vector<config_result> results;
  for (auto n : agent_counts)
    for (auto t : timeouts) {
      if (interrupted) break;
      results.push_back(run_config(sys, zk, static_cast<size_t>(n), t, runs, poll, timeout));
      std::printf("%s\n", config_row(results.back()).c_str());
      std::fflush(stdout);
    }
  double spawn_after = main::spawn_rate(static_cast<int>(spawns));

  std::printf("\n%s\n", machine_text().c_str());
  std::printf(
      "ZooKeeper: 3 servers on 127.0.0.1 (tickTime=500, initLimit=10, syncLimit=5, "
      "maxSessionTimeout=60000)\n"
      "masters: 2, agora-master --zk=zk://.../agora/bench-<agents>-<T> "
      "--zk-session-timeout=<T> --allocation-interval=100ms (other flags default)\n"
      "agents: agora-agent --master=zk://... --resources=cpus:1;mem:256MiB;disk:256MiB "
      "--port=0 --actor-port=0\n"
      "framework: scheduler driver in this process following zk://, never declines\n"
      "runs per configuration: %lld; poll interval %lld ms; times from the kill -9 of the "
      "leader\n",
      static_cast<long long>(runs), static_cast<long long>(poll.count()));
  std::printf("spawn baseline: %.0f /bin/true spawns/s before, %.0f after the runs\n\n",
              spawn_before, spawn_after);
  std::printf(
      "| agents | session timeout | runs | ZooKeeper names new leader | (a) new leader | "
      "(b) all agents active | (b)-(a) | (c) first offer | idle CPU, cores (machine / agents) |\n"
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  bool failed = false;
  for (const auto& r : results) {
    std::printf("%s\n", config_row(r).c_str());
    failed = failed || !r.failure.empty();
  }
  if (interrupted) return 130;
  return failed ? 1 : 0;
}
