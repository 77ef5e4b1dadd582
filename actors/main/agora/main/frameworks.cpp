#include "agora/main/frameworks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace agora::main {

using protocol::task_state;

execute_scheduler::execute_scheduler(options opts) : opts_(std::move(opts)) {}

void execute_scheduler::subscribed(agora::scheduler::driver& d, const std::string& framework_id) {
  std::cout << "subscribed as framework " << framework_id << std::endl;
  if (launched_ && !done_) d.reconcile({task_id_});
}

void execute_scheduler::offers(agora::scheduler::driver& d,
                               const std::vector<protocol::offer>& offers) {
  if (done_) return;
  std::vector<std::string> unused;
  for (const auto& o : offers) {
    if (launched_ || !o.res.contains(opts_.res)) {
      unused.push_back(o.id);
      continue;
    }
    launched_ = true;
    task_id_ = opts_.task_name + "-" + d.framework_id();
    protocol::task_info t;
    t.id = task_id_;
    t.name = opts_.task_name;
    t.command = opts_.command;
    t.res = opts_.res;
    t.environment = opts_.environment;
    std::cout << "launching task " << t.id << " on agent " << o.agent_id << " (" << o.hostname
              << ") with " << t.res.to_string() << std::endl;
    d.accept({o.id}, {t});
  }
  // Nothing else to run: refuse the rest for long.
  if (!unused.empty()) d.decline(unused, protocol::filters{3600 * 1000});
}

void execute_scheduler::update(agora::scheduler::driver& d, const protocol::task_status& s) {
  if (s.task_id != task_id_ || done_) return;
  std::cout << "task " << s.task_id << " " << protocol::to_string(s.state);
  if (!s.message.empty()) std::cout << ": " << s.message;
  std::cout << std::endl;
  if (!protocol::is_terminal(s.state)) return;
  done_ = true;
  if (s.state == task_state::finished) {
    exit_status_ = 0;
  } else if (s.exit_code > 0 && s.exit_code < 256) {
    exit_status_ = s.exit_code;
  } else {
    exit_status_ = 1;
  }
  d.teardown();
}

void execute_scheduler::error(agora::scheduler::driver& d, const std::string& message, bool fatal) {
  // After the task's end this framework tore itself down: the master's
  // notice that it was removed is the answer to that, not a failure.
  if (done_) return;
  std::cerr << "agora execute: master error: " << message << std::endl;
  if (fatal) {
    exit_status_ = 2;
    d.stop();
  }
}

double demo_scheduler::summary::percentile(double p) const {
  if (running_latency_ms.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * running_latency_ms.size()));
  return running_latency_ms[std::min(running_latency_ms.size() - 1, rank == 0 ? 0 : rank - 1)];
}

demo_scheduler::demo_scheduler(options opts) : opts_(std::move(opts)) {}

void demo_scheduler::subscribed(agora::scheduler::driver&, const std::string& framework_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (sum_.launched == 0) start_ = clock::now();
  if (!opts_.quiet) std::cout << "demo: subscribed as framework " << framework_id << std::endl;
}

void demo_scheduler::offers(agora::scheduler::driver& d,
                            const std::vector<protocol::offer>& offers) {
  std::unique_lock<std::mutex> guard{mtx_};
  auto now = clock::now();
  for (const auto& o : offers) {
    auto left = o.res;
    std::vector<protocol::task_info> batch;
    while (left.contains(opts_.res) && (opts_.tasks == 0 || next_task_ < opts_.tasks) &&
           (opts_.parallel == 0 || active_ < opts_.parallel)) {
      protocol::task_info t;
      t.id = "demo-" + std::to_string(next_task_++);
      t.name = "demo";
      t.command = opts_.command;
      t.res = opts_.res;
      left -= opts_.res;
      accepted_at_[t.id] = now;
      ++active_;
      ++sum_.launched;
      batch.push_back(std::move(t));
    }
    if (batch.empty()) {
      // Nothing to run now; a finishing task frees resources and brings a
      // new offer, so a short filter is enough.
      d.decline({o.id}, protocol::filters{1000});
    } else {
      d.accept({o.id}, std::move(batch), protocol::filters{0});
    }
  }
}

void demo_scheduler::update(agora::scheduler::driver& d, const protocol::task_status& s) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (s.state == task_state::running) {
    auto it = accepted_at_.find(s.task_id);
    if (it != accepted_at_.end()) {
      double ms = std::chrono::duration<double, std::milli>(clock::now() - it->second).count();
      sum_.running_latency_ms.insert(
          std::upper_bound(sum_.running_latency_ms.begin(), sum_.running_latency_ms.end(), ms), ms);
    }
    return;
  }
  if (!protocol::is_terminal(s.state)) return;
  if (accepted_at_.erase(s.task_id) == 0) return;  // a duplicate or unknown update
  --active_;
  if (s.state == task_state::finished) {
    ++sum_.finished;
  } else {
    ++sum_.failed;
    if (!opts_.quiet)
      std::cout << "demo: task " << s.task_id << " " << protocol::to_string(s.state) << ": "
                << s.message << std::endl;
  }
  auto done = sum_.finished + sum_.failed;
  if (!opts_.quiet && opts_.tasks == 0 && done % 50 == 0)
    std::cout << "demo: " << done << " tasks done" << std::endl;
  if (opts_.tasks > 0 && done >= opts_.tasks && !stopped_) {
    stopped_ = true;
    sum_.wall_seconds = std::chrono::duration<double>(clock::now() - start_).count();
    sum_.tasks_per_second = sum_.wall_seconds > 0 ? done / sum_.wall_seconds : 0;
    if (!opts_.quiet) std::cout << format(sum_) << std::endl;
    guard.unlock();
    if (opts_.stop_when_done) d.teardown();
  }
}

void demo_scheduler::error(agora::scheduler::driver& d, const std::string& message, bool fatal) {
  std::cerr << "demo: master error: " << message << std::endl;
  if (fatal) d.stop();
}

demo_scheduler::summary demo_scheduler::current() const {
  std::lock_guard<std::mutex> guard{mtx_};
  summary s = sum_;
  if (s.wall_seconds == 0 && s.launched > 0) {
    s.wall_seconds = std::chrono::duration<double>(clock::now() - start_).count();
    s.tasks_per_second = s.wall_seconds > 0 ? (s.finished + s.failed) / s.wall_seconds : 0;
  }
  return s;
}

std::string demo_scheduler::format(const summary& s) {
  std::ostringstream out;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "demo summary: launched %lld, finished %lld, failed %lld, wall time %.2fs, "
                "%.1f tasks/s, accept->RUNNING p50 %.2fms p99 %.2fms",
                static_cast<long long>(s.launched), static_cast<long long>(s.finished),
                static_cast<long long>(s.failed), s.wall_seconds, s.tasks_per_second,
                s.percentile(50), s.percentile(99));
  out << buf;
  return out.str();
}

}  // namespace agora::main
