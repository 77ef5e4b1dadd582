// agora-bench: launch latency and throughput on an embedded cluster (a master
// and N agents in this process, tasks as real processes), repeated and
// reported as medians. Usage: agora-bench [--tasks 1000] [--runs 5] ...

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <rapidjson/document.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/agent/agent_actor.hpp"
#include "agora/main/frameworks.hpp"
#include "agora/main/master_runtime.hpp"
#include "agora/main/spawn_baseline.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/transport.hpp"

namespace {

using namespace agora;

double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  size_t n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

// The benchmark's actor system: protocol and agent types, the middleman on
// the guarded transport.
struct bench_config : caf::actor_system_config {
  bench_config() {
    protocol::announce(*this);
    agent::announce(*this);
    protocol::load_transport(*this);
  }
};

// Starts a master in `sys` on free ports (exits on failure).
std::unique_ptr<main::master_runtime> start_master(caf::actor_system& sys,
                                                   std::chrono::milliseconds interval) {
  main::master_options opts;
  opts.http_port = 0;
  opts.actor_port = 0;
  opts.config.allocation_interval = interval;
  std::string error;
  auto rt = main::master_runtime::start(sys, opts, error);
  if (!rt) {
    std::cerr << "agora-bench: " << error << "\n";
    std::exit(1);
  }
  return rt;
}

struct run_result {
  main::demo_scheduler::summary summary;
  bool completed = false;
};

run_result run_once(int64_t tasks, int64_t parallel, int64_t agents,
                    const protocol::resources& agent_res, const std::string& command,
                    const std::string& work_dir, const std::string& isolation,
                    const std::string& shim, int run) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto rt = start_master(sys, std::chrono::milliseconds{1000});
  std::vector<caf::actor> agent_actors;
  std::mutex registered_mtx;
  std::condition_variable registered_cv;
  int64_t registered = 0;
  for (int64_t i = 0; i < agents; ++i) {
    agent::agent_config ac;
    ac.hostname = "bench-agent-" + std::to_string(i);
    ac.resources = agent_res;
    ac.work_dir = work_dir + "/run-" + std::to_string(run) + "/agent-" + std::to_string(i);
    ac.http_enabled = false;
    ac.isolation = isolation;
    ac.cgroups.root = "agora-bench";
    // As agora-agent runs tasks: under the shim, checkpointed.
    ac.checkpoint = !shim.empty();
    ac.shim = shim;
    ac.log = [](const std::string&) {};
    ac.on_registered = [&](const std::string&, const std::string&) {
      std::lock_guard<std::mutex> guard{registered_mtx};
      ++registered;
      registered_cv.notify_all();
    };
    agent_actors.push_back(agent::spawn_agent(sys, ac, rt->actor()));
    if (!agent_actors.back()) {
      std::cerr << "agora-bench: cannot start agent " << i << " with --isolation " << isolation
                << "\n";
      std::exit(1);
    }
  }
  // Wait until every agent is registered.
  {
    std::unique_lock<std::mutex> lock{registered_mtx};
    registered_cv.wait_for(lock, std::chrono::seconds{30}, [&] { return registered >= agents; });
  }
  caf::scoped_actor self{sys};
  main::demo_scheduler::options dopts;
  dopts.tasks = tasks;
  dopts.parallel = parallel;
  dopts.command = command;
  dopts.quiet = true;
  auto sched = std::make_shared<main::demo_scheduler>(dopts);
  scheduler::driver_config dcfg;
  dcfg.master = rt->actor();
  dcfg.framework.name = "agora-bench";
  dcfg.framework.roles = {"bench"};
  auto driver = scheduler::spawn_driver(sys, dcfg, sched);
  self->monitor(driver);
  run_result r;
  self->receive([&](const caf::down_msg&) { r.completed = true; },
                caf::after(std::chrono::minutes{5}) >> [] {});
  r.summary = sched->current();
  for (auto& a : agent_actors)
    self->request(a, std::chrono::seconds{30}, agent::stop_atom::value)
        .receive([](agent::stop_atom) {}, [](const caf::error&) {});
  rt.reset();
  return r;
}

struct recovery_result {
  double launch_s = 0;       ///< Launching the tasks (for scale).
  double recovery_ms = 0;    ///< The new agent's own recovery (`/state`).
  double reregister_ms = 0;  ///< Spawn of the new agent to its re-registration.
  int64_t recovered = 0;     ///< Tasks it re-attached.
};

// Starts a master and one checkpointing agent, runs `tasks` long tasks on
// it, stops the agent leaving them running (as SIGTERM does with --recover
// reconnect), and measures how long a new agent on the same work directory
// takes to recover them and to re-register.
recovery_result recovery_once(int64_t tasks, const std::string& work_dir,
                              const std::string& isolation, const std::string& shim, int run) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto rt = start_master(sys, std::chrono::milliseconds{200});
  std::mutex mtx;
  std::condition_variable cv;
  int64_t registrations = 0;
  agent::agent_config ac;
  ac.hostname = "bench-recovery";
  std::string ignored;
  protocol::resources::parse(
      "cpus:" + std::to_string(tasks / 100 + 1) + ";mem:" + std::to_string(tasks + 64) + "MiB",
      ac.resources, ignored);
  ac.work_dir = work_dir + "/recovery-" + std::to_string(run);
  ac.http_enabled = false;
  ac.isolation = isolation;
  ac.cgroups.root = "agora-bench";
  ac.checkpoint = true;
  ac.shim = shim;
  ac.log = [](const std::string&) {};
  ac.on_registered = [&](const std::string&, const std::string&) {
    std::lock_guard<std::mutex> guard{mtx};
    ++registrations;
    cv.notify_all();
  };
  auto wait_registrations = [&](int64_t n) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, std::chrono::seconds{60}, [&] { return registrations >= n; });
  };
  auto first = agent::spawn_agent(sys, ac, rt->actor());
  if (!first || !wait_registrations(1)) {
    std::cerr << "agora-bench: the agent did not start or register\n";
    std::exit(1);
  }
  caf::scoped_actor self{sys};
  main::demo_scheduler::options dopts;
  dopts.tasks = tasks;
  dopts.command = "exec sleep 1000";
  dopts.res = protocol::resources::make(0.01, int64_t{1} << 20);
  dopts.quiet = true;
  dopts.stop_when_done = false;
  auto sched = std::make_shared<main::demo_scheduler>(dopts);
  scheduler::driver_config dcfg;
  dcfg.master = rt->actor();
  dcfg.framework.name = "agora-bench-recovery";
  dcfg.framework.roles = {"bench"};
  dcfg.framework.failover_timeout_ms = 600000;
  auto t0 = std::chrono::steady_clock::now();
  auto driver = scheduler::spawn_driver(sys, dcfg, sched);
  recovery_result r;
  auto deadline = t0 + std::chrono::minutes{3};
  while (static_cast<int64_t>(sched->current().running_latency_ms.size()) < tasks) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "agora-bench: only " << sched->current().running_latency_ms.size() << " of "
                << tasks << " tasks running after 3 minutes\n";
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});  // a progress poll
  }
  r.launch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bool left = false;
  self->request(first, std::chrono::seconds{30}, agent::leave_atom::value)
      .receive([&](agent::leave_atom) { left = true; }, [](const caf::error&) {});
  if (!left) {
    std::cerr << "agora-bench: the agent did not stop\n";
    std::exit(1);
  }
  auto t1 = std::chrono::steady_clock::now();
  if (std::getenv("AGORA_BENCH_DEBUG"))
    ac.log = [t1](const std::string& line) {
      std::fprintf(
          stderr, "%8.1f ms %s\n",
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count(),
          line.c_str());
    };
  auto second = agent::spawn_agent(sys, ac, rt->actor());
  if (!second || !wait_registrations(2)) {
    std::cerr << "agora-bench: the new agent did not start or re-register\n";
    std::exit(1);
  }
  r.reregister_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  self->request(second, std::chrono::seconds{10}, protocol::state_atom::value)
      .receive(
          [&](const std::string& json) {
            rapidjson::Document d;
            d.Parse(json.c_str());
            if (!d.HasParseError() && d.HasMember("checkpoint")) {
              r.recovery_ms = d["checkpoint"]["recovery_ms"].GetDouble();
              r.recovered = d["checkpoint"]["recovered_running"].GetInt64();
            }
          },
          [](const caf::error&) {});
  self->send_exit(driver, caf::exit_reason::user_shutdown);
  self->request(second, std::chrono::seconds{60}, agent::stop_atom::value)
      .receive([](agent::stop_atom) {}, [](const caf::error&) {});
  rt.reset();
  std::error_code ec;
  std::filesystem::remove_all(ac.work_dir, ec);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t tasks = 1000;
  int64_t latency_tasks = 200;
  int64_t runs = 5;
  int64_t agents = 3;
  std::string command = "true";
  std::string work_dir = "/tmp/agora/bench";
  bool checkpoint = false;
  std::string shim;
  std::vector<int64_t> recovery_tasks;
  protocol::resources agent_res;
  std::string ignored;
  protocol::resources::parse("cpus:4;mem:8GiB;disk:10GiB", agent_res, ignored);
  cli::flags f{"agora-bench",
               "Measures accept->TASK_RUNNING latency and task throughput on an embedded "
               "cluster (master + agents in this process, tasks as real processes)."};
  f.add("tasks", &tasks, "tasks of the throughput phase");
  f.add("latency-tasks", &latency_tasks, "tasks of the latency phase (one in flight)");
  f.add("runs", &runs, "repetitions (medians are reported)");
  f.add("agents", &agents, "agents");
  f.add("command", &command, "command of each task");
  f.add("work-dir", &work_dir, "sandboxes go here");
  std::string isolation = "auto";
  f.add_custom("isolation", isolation, "the agents' --isolation: auto, cgroups or posix",
               [&isolation](const std::string& v, std::string& err) {
                 if (v != "auto" && v != "cgroups" && v != "posix") {
                   err = "'" + v + "' is not auto, cgroups or posix";
                   return false;
                 }
                 isolation = v;
                 return true;
               });
  int64_t spawns = 1000;
  f.add("spawns", &spawns, "/bin/true processes of the spawn baseline (0: none)");
  f.add_custom("agent-resources", agent_res.to_string(), "resources of each agent",
               [&agent_res](const std::string& v, std::string& err) {
                 return protocol::resources::parse(v, agent_res, err);
               });
  f.add("checkpoint", &checkpoint,
        "agents checkpoint and run tasks under agora-shim, as agora-agent does");
  f.add_custom("recovery", "",
               "instead of launches, measure agent recovery with these numbers of running "
               "tasks, e.g. 100,1000",
               [&](const std::string& v, std::string& err) {
                 recovery_tasks.clear();
                 std::stringstream in{v};
                 std::string item;
                 while (std::getline(in, item, ',')) {
                   char* end = nullptr;
                   long long n = std::strtoll(item.c_str(), &end, 10);
                   if (item.empty() || *end != 0 || n < 1 || n > 100000) {
                     err = "'" + item + "' is not a number of tasks from 1 to 100000";
                     return false;
                   }
                   recovery_tasks.push_back(n);
                 }
                 return !recovery_tasks.empty();
               });
  f.parse_or_exit(argc, argv);
  if (tasks < 1 || latency_tasks < 1 || runs < 1 || agents < 1) {
    std::cerr << "agora-bench: error: --tasks, --runs and --agents must be positive\n";
    return 2;
  }
  {
    std::error_code ec;
    auto self_path = std::filesystem::read_symlink("/proc/self/exe", ec);
    shim = (self_path.parent_path() / "agora-shim").string();
  }
  if (!recovery_tasks.empty()) {
    std::printf("isolation: %s\n", isolation.c_str());
    std::printf("run  tasks  launch_s  recovery_ms  reregister_ms  recovered\n");
    for (auto n : recovery_tasks) {
      std::vector<double> rec, reg;
      for (int64_t i = 0; i < runs; ++i) {
        auto r = recovery_once(n, work_dir, isolation, shim, static_cast<int>(i));
        if (r.recovered != n) {
          std::fprintf(stderr, "agora-bench: recovered %lld of %lld tasks\n",
                       static_cast<long long>(r.recovered), static_cast<long long>(n));
          return 1;
        }
        std::printf("%3lld  %5lld  %8.2f  %11.1f  %13.1f  %9lld\n", static_cast<long long>(i),
                    static_cast<long long>(n), r.launch_s, r.recovery_ms, r.reregister_ms,
                    static_cast<long long>(r.recovered));
        std::fflush(stdout);
        rec.push_back(r.recovery_ms);
        reg.push_back(r.reregister_ms);
      }
      std::printf(
          "median over %lld runs, %lld tasks: recovery %.1f ms, new agent to "
          "re-registered %.1f ms\n",
          static_cast<long long>(runs), static_cast<long long>(n), median(rec), median(reg));
    }
    return 0;
  }
  // Phase 1, launch latency: one task in flight at a time, so each
  // accept->RUNNING measures the launch path alone (no queueing behind other
  // launches). Phase 2, throughput: all `tasks` at once, as offers allow;
  // its latency includes waiting behind the other launches of a batch.
  std::vector<double> lat_p50, lat_p99, rates, load_p50, load_p99;
  if (spawns > 0)
    std::printf("spawn baseline (before): %.0f /bin/true spawns/s (%lld, one at a time)\n",
                main::spawn_rate(static_cast<int>(spawns)), static_cast<long long>(spawns));
  std::printf("isolation: %s\n", isolation.c_str());
  std::printf("run  phase       tasks  wall_s  tasks/s  p50_ms  p99_ms\n");
  for (int64_t i = 0; i < runs; ++i) {
    for (int phase = 0; phase < 2; ++phase) {
      int64_t n = phase == 0 ? latency_tasks : tasks;
      auto r = run_once(n, phase == 0 ? 1 : 0, agents, agent_res, command, work_dir, isolation,
                        checkpoint ? shim : std::string{}, static_cast<int>(i * 2 + phase));
      const auto& s = r.summary;
      if (!r.completed || s.finished != n) {
        std::fprintf(stderr, "agora-bench: run %lld incomplete: %lld of %lld finished\n",
                     static_cast<long long>(i), static_cast<long long>(s.finished),
                     static_cast<long long>(n));
        return 1;
      }
      std::printf("%3lld  %-10s  %5lld  %6.2f  %7.1f  %6.2f  %6.2f\n", static_cast<long long>(i),
                  phase == 0 ? "latency" : "throughput", static_cast<long long>(n), s.wall_seconds,
                  s.tasks_per_second, s.percentile(50), s.percentile(99));
      std::fflush(stdout);
      if (phase == 0) {
        lat_p50.push_back(s.percentile(50));
        lat_p99.push_back(s.percentile(99));
      } else {
        rates.push_back(s.tasks_per_second);
        load_p50.push_back(s.percentile(50));
        load_p99.push_back(s.percentile(99));
      }
    }
  }
  std::printf(
      "median over %lld runs: launch latency (one in flight) p50 %.2f ms, p99 %.2f ms; "
      "throughput %.1f tasks/s for %lld tasks (latency under that load p50 %.2f ms, "
      "p99 %.2f ms)\n",
      static_cast<long long>(runs), median(lat_p50), median(lat_p99), median(rates),
      static_cast<long long>(tasks), median(load_p50), median(load_p99));
  if (spawns > 0)
    std::printf("spawn baseline (after): %.0f /bin/true spawns/s\n",
                main::spawn_rate(static_cast<int>(spawns)));
  return 0;
}
