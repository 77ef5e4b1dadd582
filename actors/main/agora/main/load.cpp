#include "agora/main/load.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include <sys/resource.h>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/auth/credentials.hpp"
#include "agora/auth/flags.hpp"
#include "agora/cli/flags.hpp"
#include "agora/discovery/master_info.hpp"
#include "agora/main/signals.hpp"
#include "agora/main/spawn_baseline.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/roles.hpp"
#include "agora/protocol/transport.hpp"
#include "agora/scheduler/driver.hpp"

namespace agora::main {

// -- task durations -----------------------------------------------------------

bool duration_distribution::parse(const std::string& text, duration_distribution& out,
                                  std::string& error) {
  auto fail = [&] {
    error = "'" + text +
            "' is not a task duration: write a duration (2s, 500ms), uniform:MIN:MAX or "
            "exp:MEAN";
    return false;
  };
  std::vector<std::string> parts;
  for (size_t pos = 0;;) {
    auto colon = text.find(':', pos);
    parts.push_back(text.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos));
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  std::string ignored;
  duration_distribution d;
  if (parts.size() == 1) {
    if (!cli::parse_duration(parts[0], d.a, ignored)) return fail();
  } else if (parts.size() == 3 && parts[0] == "uniform") {
    d.shape = kind::uniform;
    if (!cli::parse_duration(parts[1], d.a, ignored) ||
        !cli::parse_duration(parts[2], d.b, ignored))
      return fail();
    if (d.b < d.a) {
      error = "'" + text + "': the upper bound is below the lower bound";
      return false;
    }
  } else if (parts.size() == 2 && parts[0] == "exp") {
    d.shape = kind::exponential;
    if (!cli::parse_duration(parts[1], d.a, ignored)) return fail();
  } else {
    return fail();
  }
  out = d;
  return true;
}

std::chrono::milliseconds duration_distribution::draw(std::mt19937_64& rng) const {
  switch (shape) {
    case kind::constant:
      return a;
    case kind::uniform:
      return std::chrono::milliseconds{
          std::uniform_int_distribution<int64_t>{a.count(), b.count()}(rng)};
    case kind::exponential: {
      if (a.count() == 0) return a;
      double x = std::exponential_distribution<double>{1.0 / static_cast<double>(a.count())}(rng);
      // A draw beyond 1,000 means (probability e^-1000) is not a task length.
      x = std::min(x, 1000.0 * static_cast<double>(a.count()));
      return std::chrono::milliseconds{std::llround(x)};
    }
  }
  return a;
}

namespace {

std::string format_ms(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

std::string duration_distribution::to_string() const {
  switch (shape) {
    case kind::constant:
      return format_ms(a);
    case kind::uniform:
      return "uniform:" + format_ms(a) + ":" + format_ms(b);
    case kind::exponential:
      return "exp:" + format_ms(a);
  }
  return {};
}

std::string sleep_command(std::chrono::milliseconds d) {
  auto ms = std::max<int64_t>(0, d.count());
  std::string text = "sleep " + std::to_string(ms / 1000);
  if (auto frac = ms % 1000; frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(frac));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    text += f;
  }
  return text;
}

int64_t tasks_that_fit(const protocol::resources& offered, const protocol::resources& task) {
  int64_t fit = -1;
  auto limit = [&fit](int64_t have, int64_t need) {
    if (need <= 0) return;
    int64_t n = have > 0 ? have / need : 0;
    fit = fit < 0 ? n : std::min(fit, n);
  };
  limit(offered.cpus_milli, task.cpus_milli);
  limit(offered.mem_bytes, task.mem_bytes);
  limit(offered.disk_bytes, task.disk_bytes);
  limit(offered.gpus, task.gpus);
  return std::max<int64_t>(fit, 0);
}

// -- percentiles --------------------------------------------------------------

void latency_sample::add(int64_t value) {
  if (!values_.empty() && value < values_.back()) sorted_ = false;
  values_.push_back(value);
}

void latency_sample::sort() {
  if (sorted_) return;
  std::sort(values_.begin(), values_.end());
  sorted_ = true;
}

int64_t latency_sample::percentile(double p) {
  if (values_.empty()) return 0;
  sort();
  // Nearest rank: the ceil(p/100 * n)-th smallest value (1-based).
  auto n = static_cast<double>(values_.size());
  auto rank = static_cast<size_t>(std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * n));
  return values_[std::min(values_.size(), std::max<size_t>(rank, 1)) - 1];
}

latency_sample::summary latency_sample::summarize() {
  summary s;
  if (values_.empty()) return s;
  s.count = count();
  s.p50 = percentile(50);
  s.p90 = percentile(90);
  s.p99 = percentile(99);
  s.max = values_.back();
  double sum = 0;
  for (auto v : values_) sum += static_cast<double>(v);
  s.mean = sum / static_cast<double>(values_.size());
  return s;
}

// -- rate limit ---------------------------------------------------------------

token_bucket::token_bucket(double rate, double capacity, clock::time_point start)
    : rate_(rate), capacity_(std::max(1.0, capacity)), last_(start) {}

void token_bucket::refill(clock::time_point now) {
  if (now <= last_) return;
  tokens_ =
      std::min(capacity_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
  last_ = now;
}

int64_t token_bucket::take(int64_t at_least, int64_t at_most, clock::time_point now) {
  refill(now);
  auto whole = static_cast<int64_t>(std::floor(tokens_ + 1e-9));
  if (whole < at_least || at_most <= 0) return 0;
  int64_t n = std::min(whole, at_most);
  tokens_ = std::max(0.0, tokens_ - static_cast<double>(n));
  return n;
}

token_bucket::clock::duration token_bucket::time_until(int64_t n, clock::time_point now) {
  refill(now);
  double need = std::min(static_cast<double>(n), capacity_) - tokens_;
  if (need <= 0 || rate_ <= 0) return clock::duration::zero();
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(need / rate_));
}

// -- a run --------------------------------------------------------------------

namespace {

using clock = std::chrono::steady_clock;
using tick_atom = caf::atom_constant<caf::atom("ldtick")>;
using finish_atom = caf::atom_constant<caf::atom("ldfinish")>;

/// An offer is held (rate limit) at most this long before it is used for
/// whatever the bucket has, so a few frameworks waiting for many tokens
/// each do not starve.
constexpr auto max_hold = std::chrono::seconds{1};
/// Decline filters: resources too small for a task are refused briefly
/// (an agent's next offer with freed resources is larger, so it passes);
/// once every task is claimed, for long.
constexpr int64_t short_refuse_ms = 1000;
constexpr int64_t long_refuse_ms = 60000;
/// Failures printed one by one before they are only counted.
constexpr int64_t max_failures_shown = 5;

const std::string task_prefix = "load-";

double seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }
int64_t micros(clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

/// Where a task of the run is.
enum class phase : uint8_t { unclaimed, accepted, running, ended };

/// Counters of a run at one moment.
struct load_counts {
  int64_t accepted = 0, running = 0, ended = 0;
  int64_t finished = 0, failed = 0, killed = 0, lost = 0, dropped = 0, errors = 0;
  int64_t offers_received = 0, offers_accepted = 0, offers_declined = 0, offers_rescinded = 0;
  /// Since the start of the run; `first_offer` negative until an offer came.
  clock::duration first_offer{-1}, last_accept{0}, last_running{0}, last_end{0};
};

/// Why a run stopped.
enum class outcome { running, done, fatal, timed_out, interrupted };

/// What the framework actors share with each other and the main thread:
/// which tasks are claimed, the rate budget, and the measurements.
/// Thread-safe (one mutex: at most a few thousand events per second).
class load_run {
 public:
  struct claim {
    int64_t first = 0;
    int64_t count = 0;
  };

  load_run(const load_options& opts, clock::time_point start)
      : opts_(opts),
        start_(start),
        phases_(static_cast<size_t>(opts.tasks), phase::unclaimed),
        accepted_at_(static_cast<size_t>(opts.tasks), 0),
        ids_(static_cast<size_t>(opts.frameworks)) {
    if (opts.rate)
      // One second of tokens at most: a burst after a pause stays short.
      bucket_.emplace(*opts.rate, *opts.rate, start);
  }

  const load_options& options() const { return opts_; }
  clock::time_point start() const { return start_; }
  bool rate_limited() const { return bucket_.has_value(); }

  /// Claims between `at_least` and `at_most` tasks not claimed yet, within
  /// the rate budget; none when fewer than `at_least` can be had.
  claim take(int64_t at_least, int64_t at_most, clock::time_point now) {
    std::lock_guard<std::mutex> guard{mtx_};
    int64_t left = opts_.tasks - next_;
    at_most = std::min(at_most, left);
    at_least = std::min(at_least, at_most);
    if (at_most <= 0) return {};
    int64_t n = bucket_ ? bucket_->take(std::max<int64_t>(at_least, 1), at_most, now) : at_most;
    claim c{next_, n};
    next_ += n;
    return c;
  }

  int64_t unclaimed() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return opts_.tasks - next_;
  }

  /// Returns how long until the bucket holds `n` tokens.
  clock::duration time_until(int64_t n, clock::time_point now) {
    std::lock_guard<std::mutex> guard{mtx_};
    return bucket_ ? bucket_->time_until(n, now) : clock::duration::zero();
  }

  void offers_received(size_t n, clock::time_point now) {
    std::lock_guard<std::mutex> guard{mtx_};
    c_.offers_received += static_cast<int64_t>(n);
    if (c_.first_offer.count() < 0) c_.first_offer = now - start_;
  }

  /// Records the decision on one offer received at `received`.
  void decided(clock::time_point received, clock::time_point now, const claim* launched) {
    std::lock_guard<std::mutex> guard{mtx_};
    decision_us_.add(micros(now - received));
    if (!launched) {
      ++c_.offers_declined;
      return;
    }
    ++c_.offers_accepted;
    c_.accepted += launched->count;
    c_.last_accept = now - start_;
    auto at = (now - start_).count();
    for (int64_t i = launched->first; i < launched->first + launched->count; ++i) {
      phases_[static_cast<size_t>(i)] = phase::accepted;
      accepted_at_[static_cast<size_t>(i)] = at;
    }
  }

  void rescinded() {
    std::lock_guard<std::mutex> guard{mtx_};
    ++c_.offers_rescinded;
  }

  void update(const protocol::task_status& s, clock::time_point now) {
    if (s.task_id.compare(0, task_prefix.size(), task_prefix) != 0) return;
    char* end = nullptr;
    auto index = std::strtoll(s.task_id.c_str() + task_prefix.size(), &end, 10);
    if (end == s.task_id.c_str() + task_prefix.size() || *end != '\0' || index < 0 ||
        index >= opts_.tasks)
      return;
    std::unique_lock<std::mutex> guard{mtx_};
    auto& ph = phases_[static_cast<size_t>(index)];
    if (ph == phase::unclaimed || ph == phase::ended) return;  // unknown, or a duplicate
    if (s.state == protocol::task_state::running) {
      if (ph != phase::accepted) return;
      ph = phase::running;
      ++c_.running;
      c_.last_running = now - start_;
      auto accepted = clock::duration{accepted_at_[static_cast<size_t>(index)]};
      running_us_.add(micros((now - start_) - accepted));
      return;
    }
    if (!protocol::is_terminal(s.state)) return;
    ph = phase::ended;
    ++c_.ended;
    c_.last_end = now - start_;
    using protocol::task_state;
    switch (s.state) {
      case task_state::finished:
        ++c_.finished;
        break;
      case task_state::failed:
        ++c_.failed;
        break;
      case task_state::killed:
        ++c_.killed;
        break;
      case task_state::dropped:
        ++c_.dropped;
        break;
      case task_state::error:
        ++c_.errors;
        break;
      default:
        ++c_.lost;
        break;
    }
    if (s.state != task_state::finished && ++failures_shown_ <= max_failures_shown) {
      std::cerr << "agora load: task " << s.task_id << " " << protocol::to_string(s.state);
      if (!s.message.empty()) std::cerr << ": " << s.message;
      if (failures_shown_ == max_failures_shown) std::cerr << " (further failures only counted)";
      std::cerr << std::endl;
    }
    if (c_.ended == opts_.tasks) stop(outcome::done, {});
  }

  void subscribed(size_t index, const std::string& framework_id) {
    std::lock_guard<std::mutex> guard{mtx_};
    ids_[index] = framework_id;
  }

  /// Ends the run early (the master refused a framework, a signal, ...).
  void end(outcome why, std::string message) {
    std::lock_guard<std::mutex> guard{mtx_};
    stop(why, std::move(message));
  }

  /// Waits until the run ends or `until`; returns how it stands then.
  outcome wait(clock::time_point until) {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait_until(guard, until, [this] { return outcome_ != outcome::running; });
    return outcome_;
  }

  load_counts counts() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return c_;
  }

  std::string message() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return message_;
  }

  std::vector<std::string> framework_ids() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return ids_;
  }

  /// Returns the latency figures (accept to TASK_RUNNING, offer to decision).
  std::pair<latency_sample::summary, latency_sample::summary> latencies() {
    std::lock_guard<std::mutex> guard{mtx_};
    return {running_us_.summarize(), decision_us_.summarize()};
  }

 private:
  void stop(outcome why, std::string message) {
    if (outcome_ != outcome::running) return;
    outcome_ = why;
    message_ = std::move(message);
    cv_.notify_all();
  }

  const load_options opts_;
  const clock::time_point start_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::optional<token_bucket> bucket_;
  int64_t next_ = 0;
  std::vector<phase> phases_;
  /// When each task was accepted (clock ticks since the start).
  std::vector<clock::rep> accepted_at_;
  std::vector<std::string> ids_;
  load_counts c_;
  latency_sample running_us_;
  latency_sample decision_us_;
  int64_t failures_shown_ = 0;
  outcome outcome_ = outcome::running;
  std::string message_;
};

// -- one framework ------------------------------------------------------------

/// An offer kept while the rate limit allows no launch on it yet.
struct held_offer {
  protocol::offer offer;
  int64_t fit = 0;
  clock::time_point received;
};

struct load_framework_state {
  static inline const char* name = "agora.load_framework";
  std::shared_ptr<load_run> run;
  size_t index = 0;
  caf::actor driver;
  std::mt19937_64 rng;
  std::deque<held_offer> held;
  bool tick_scheduled = false;
  bool suppressed = false;
  bool finishing = false;
};

using load_framework = caf::stateful_actor<load_framework_state>*;

void decline(load_framework self, const std::string& offer_id, clock::time_point received,
             int64_t refuse_ms) {
  auto& st = self->state;
  self->send(st.driver, protocol::decline{"", {offer_id}, protocol::filters{refuse_ms}});
  st.run->decided(received, clock::now(), nullptr);
}

/// Every task is claimed: declines what is held, for long, and stops offers.
void nothing_left(load_framework self) {
  auto& st = self->state;
  for (const auto& h : st.held) decline(self, h.offer.id, h.received, long_refuse_ms);
  st.held.clear();
  if (!st.suppressed) {
    st.suppressed = true;
    self->send(st.driver, protocol::suppress{});
  }
}

/// Launches the claimed tasks on `o`, which has room for `fit` of them.
void launch(load_framework self, const protocol::offer& o, int64_t fit, const load_run::claim& c,
            clock::time_point received) {
  auto& st = self->state;
  const auto& opts = st.run->options();
  std::vector<protocol::task_info> tasks;
  tasks.reserve(static_cast<size_t>(c.count));
  for (int64_t i = c.first; i < c.first + c.count; ++i) {
    protocol::task_info t;
    t.id = task_prefix + std::to_string(i);
    t.name = "agora-load";
    t.command =
        opts.command.empty() ? sleep_command(opts.task_duration.draw(st.rng)) : opts.command;
    t.res = opts.task_resources;
    tasks.push_back(std::move(t));
  }
  // What is left returns to the pool: refused briefly when no task fits
  // into it, at once re-offerable when one would (a rate-limited launch).
  int64_t refuse = c.count < fit ? 0 : short_refuse_ms;
  // Accept->RUNNING latencies count from here, just before the accept goes.
  auto sent = clock::now();
  self->send(st.driver, protocol::accept{"", {o.id}, std::move(tasks), protocol::filters{refuse}});
  st.run->decided(received, sent, &c);
}

/// Uses the held offers as far as the rate budget allows; schedules a tick
/// for when it allows more.
void drain(load_framework self) {
  auto& st = self->state;
  while (!st.held.empty()) {
    auto& h = st.held.front();
    auto now = clock::now();
    int64_t want = std::min(h.fit, st.run->unclaimed());
    if (want == 0) {
      nothing_left(self);
      return;
    }
    // Wait for tokens for all the offer holds (one accept), unless it has
    // been held long enough: then take what there is.
    bool overdue = now - h.received >= max_hold;
    auto c = st.run->take(overdue ? 1 : want, want, now);
    if (c.count == 0) {
      if (st.run->unclaimed() == 0) {
        nothing_left(self);
        return;
      }
      if (!st.tick_scheduled) {
        auto wait = overdue ? st.run->time_until(1, now)
                            : std::min(st.run->time_until(want, now), h.received + max_hold - now);
        wait = std::max<clock::duration>(wait, std::chrono::milliseconds{1});
        st.tick_scheduled = true;
        self->delayed_send(self, wait, tick_atom::value);
      }
      return;
    }
    launch(self, h.offer, h.fit, c, h.received);
    st.held.pop_front();
  }
}

void on_offers(load_framework self, std::vector<protocol::offer>& offers) {
  auto& st = self->state;
  auto received = clock::now();
  st.run->offers_received(offers.size(), received);
  for (auto& o : offers) {
    if (st.finishing) {
      decline(self, o.id, received, long_refuse_ms);
      continue;
    }
    int64_t fit = tasks_that_fit(o.res, st.run->options().task_resources);
    if (fit == 0) {
      decline(self, o.id, received, short_refuse_ms);
      continue;
    }
    if (st.run->rate_limited()) {
      st.held.push_back({std::move(o), fit, received});
      continue;
    }
    auto c = st.run->take(1, fit, received);
    if (c.count == 0) {
      st.held.push_back({std::move(o), fit, received});
      nothing_left(self);
      continue;
    }
    launch(self, o, fit, c, received);
  }
  if (!st.held.empty()) drain(self);
}

caf::behavior load_framework_behavior(load_framework self, scheduler::driver_config cfg,
                                      std::shared_ptr<load_run> run, size_t index) {
  auto& st = self->state;
  st.run = std::move(run);
  st.index = index;
  st.rng.seed(st.run->options().seed + index);
  st.driver =
      scheduler::spawn_driver(self->system(), std::move(cfg), caf::actor_cast<caf::actor>(self));
  self->monitor(st.driver);
  self->set_down_handler([self](const caf::down_msg& dm) {
    if (dm.source == self->state.driver.address()) self->quit();
  });
  return {
      [self](protocol::subscribed& s) {
        auto& st = self->state;
        st.run->subscribed(st.index, s.framework_id);
        st.suppressed = false;  // a new master session offers again
      },
      [self](protocol::offers_msg& m) { on_offers(self, m.offers); },
      [self](protocol::rescind_offer& m) {
        auto& held = self->state.held;
        held.erase(std::remove_if(held.begin(), held.end(),
                                  [&](const held_offer& h) { return h.offer.id == m.offer_id; }),
                   held.end());
        self->state.run->rescinded();
      },
      [self](protocol::status_update& m) { self->state.run->update(m.status, clock::now()); },
      [self](protocol::framework_error& m) {
        if (self->state.finishing) return;  // e.g. the notice of our own teardown
        if (m.fatal) {
          self->state.run->end(outcome::fatal, "the master refused framework " +
                                                   std::to_string(self->state.index) + ": " +
                                                   m.message);
          return;
        }
        std::cerr << "agora load: master error: " << m.message << std::endl;
      },
      [self](scheduler::disconnected_msg&) {
        // Offers die with the connection.
        self->state.held.clear();
      },
      [self](tick_atom) {
        self->state.tick_scheduled = false;
        if (!self->state.finishing) drain(self);
      },
      [self](finish_atom) {
        auto& st = self->state;
        st.finishing = true;
        st.held.clear();  // the teardown returns them
        self->send(st.driver, protocol::teardown{});
      },
  };
}

// -- the report ---------------------------------------------------------------

struct load_report {
  load_counts c;
  latency_sample::summary running_us, decision_us;
  double wall_seconds = 0;
  /// CPU time (user + system) of this process over the run: how much the
  /// load generator itself costs.
  double cpu_seconds = 0;
  std::vector<std::string> framework_ids;
  std::optional<double> spawn_per_second;
  outcome how = outcome::running;
  std::string message;
};

/// Returns the CPU time this process used so far (user + system).
double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double per_second(int64_t n, clock::duration d) { return d.count() > 0 ? n / seconds(d) : 0; }

std::string rate_text(const load_options& o) {
  if (!o.rate) return "max";
  std::ostringstream out;
  out << *o.rate << "/s";
  return out.str();
}

std::string join(const std::vector<std::string>& xs) {
  std::string s;
  for (const auto& x : xs) s += (s.empty() ? "" : ",") + x;
  return s;
}

bool succeeded(const load_options& o, const load_report& r) {
  return r.how == outcome::done && r.c.finished == o.tasks;
}

void write_latency(rapidjson::PrettyWriter<rapidjson::StringBuffer>& w, const char* key,
                   const latency_sample::summary& s) {
  w.Key(key);
  w.StartObject();
  w.Key("count");
  w.Int64(s.count);
  const std::pair<const char*, int64_t> figures[] = {
      {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}};
  for (const auto& [name, v] : figures) {
    w.Key(name);
    w.Double(static_cast<double>(v) / 1000.0);
  }
  w.Key("mean");
  w.Double(s.mean / 1000.0);
  w.EndObject();
}

std::string report_json(const load_options& o, const load_report& r) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w{buf};
  w.SetIndent(' ', 2);
  auto num = [&w](const char* k, int64_t v) {
    w.Key(k);
    w.Int64(v);
  };
  auto dbl = [&w](const char* k, double v) {
    w.Key(k);
    w.Double(std::isfinite(v) ? v : 0);
  };
  auto str = [&w](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str());
  };
  w.StartObject();
  w.Key("ok");
  w.Bool(succeeded(o, r));
  str("outcome", r.how == outcome::done          ? "done"
                 : r.how == outcome::timed_out   ? "timeout"
                 : r.how == outcome::interrupted ? "interrupted"
                                                 : "refused");
  str("message", r.message);
  num("tasks", o.tasks);
  num("frameworks", o.frameworks);
  w.Key("roles");
  w.StartArray();
  for (const auto& role : o.roles) w.String(role.c_str());
  w.EndArray();
  w.Key("rate");
  if (o.rate)
    w.Double(*o.rate);
  else
    w.String("max");
  str("task_duration", o.command.empty() ? o.task_duration.to_string() : "");
  str("command", o.command);
  str("task_resources", o.task_resources.to_string());
  w.Key("framework_ids");
  w.StartArray();
  for (const auto& id : r.framework_ids) w.String(id.c_str());
  w.EndArray();
  num("accepted", r.c.accepted);
  num("running", r.c.running);
  num("finished", r.c.finished);
  num("failed", r.c.failed);
  num("killed", r.c.killed);
  num("lost", r.c.lost);
  num("dropped", r.c.dropped);
  num("errors", r.c.errors);
  num("unfinished", o.tasks - r.c.ended);
  dbl("wall_seconds", r.wall_seconds);
  dbl("cpu_seconds", r.cpu_seconds);
  dbl("first_offer_seconds", r.c.first_offer.count() < 0 ? 0 : seconds(r.c.first_offer));
  dbl("accepted_per_second", per_second(r.c.accepted, r.c.last_accept));
  dbl("running_per_second", per_second(r.c.running, r.c.last_running));
  dbl("ended_per_second", per_second(r.c.ended, r.c.last_end));
  dbl("last_accept_seconds", seconds(r.c.last_accept));
  dbl("last_running_seconds", seconds(r.c.last_running));
  dbl("last_end_seconds", seconds(r.c.last_end));
  write_latency(w, "accept_to_running_ms", r.running_us);
  write_latency(w, "offer_to_accept_ms", r.decision_us);
  w.Key("offers");
  w.StartObject();
  num("received", r.c.offers_received);
  num("accepted", r.c.offers_accepted);
  num("declined", r.c.offers_declined);
  num("rescinded", r.c.offers_rescinded);
  w.EndObject();
  if (r.spawn_per_second) dbl("spawn_baseline_per_second", *r.spawn_per_second);
  w.EndObject();
  return std::string{buf.GetString()} + "\n";
}

std::string report_table(const load_options& o, const load_report& r) {
  std::ostringstream out;
  char line[256];
  auto ll = [](int64_t v) { return static_cast<long long>(v); };
  out << "agora load: " << o.tasks << " tasks, " << o.frameworks << " framework"
      << (o.frameworks == 1 ? "" : "s") << " (roles " << join(o.roles) << "), rate " << rate_text(o)
      << ", "
      << (o.command.empty() ? "task duration " + o.task_duration.to_string()
                            : "command '" + o.command + "'")
      << ", " << o.task_resources.to_string() << " each\n";
  std::snprintf(line, sizeof line,
                "  tasks       accepted %lld, running %lld, finished %lld, failed %lld, killed "
                "%lld, lost %lld, dropped %lld, errors %lld, unfinished %lld\n",
                ll(r.c.accepted), ll(r.c.running), ll(r.c.finished), ll(r.c.failed), ll(r.c.killed),
                ll(r.c.lost), ll(r.c.dropped), ll(r.c.errors), ll(o.tasks - r.c.ended));
  out << line;
  std::snprintf(line, sizeof line,
                "  wall time   %.3f s (first offer after %.3f s; this process used %.3f s of "
                "CPU)\n",
                r.wall_seconds, r.c.first_offer.count() < 0 ? 0.0 : seconds(r.c.first_offer),
                r.cpu_seconds);
  out << line;
  std::snprintf(line, sizeof line,
                "  throughput  %.1f accepted/s (last at %.3f s), %.1f RUNNING/s (last at %.3f "
                "s), %.1f ended/s (last at %.3f s)\n",
                per_second(r.c.accepted, r.c.last_accept), seconds(r.c.last_accept),
                per_second(r.c.running, r.c.last_running), seconds(r.c.last_running),
                per_second(r.c.ended, r.c.last_end), seconds(r.c.last_end));
  out << line;
  out << "  latency (ms)        count       p50       p90       p99       max      mean\n";
  const std::pair<const char*, latency_sample::summary> rows[] = {{"accept->RUNNING", r.running_us},
                                                                  {"offer->accept", r.decision_us}};
  for (const auto& [name, s] : rows) {
    std::snprintf(line, sizeof line, "  %-16s %8lld %9.3f %9.3f %9.3f %9.3f %9.3f\n", name,
                  ll(s.count), s.p50 / 1000.0, s.p90 / 1000.0, s.p99 / 1000.0, s.max / 1000.0,
                  s.mean / 1000.0);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "  offers      received %lld, accepted %lld, declined %lld, rescinded %lld\n",
                ll(r.c.offers_received), ll(r.c.offers_accepted), ll(r.c.offers_declined),
                ll(r.c.offers_rescinded));
  out << line;
  if (r.spawn_per_second) {
    std::snprintf(line, sizeof line, "  spawn baseline  %.0f '/bin/sh -c true' per second\n",
                  *r.spawn_per_second);
    out << line;
  }
  out << "  frameworks  " << join(r.framework_ids) << "\n";
  return out.str();
}

std::string progress_line(const load_options& o, const load_counts& c, const load_counts& before,
                          double elapsed, double interval) {
  char line[256];
  std::snprintf(line, sizeof line,
                "agora load: %.1fs: accepted %lld/%lld (%.0f/s), running %lld (%.0f/s), "
                "finished %lld, failed %lld, lost %lld",
                elapsed, static_cast<long long>(c.accepted), static_cast<long long>(o.tasks),
                (c.accepted - before.accepted) / interval, static_cast<long long>(c.running),
                (c.running - before.running) / interval, static_cast<long long>(c.finished),
                static_cast<long long>(c.failed + c.killed + c.dropped + c.errors),
                static_cast<long long>(c.lost));
  return line;
}

// -- flags --------------------------------------------------------------------

/// Parses the flags into `opts` and `cfg`; returns "" or the error naming
/// the flag.
std::string parse_flags(int argc, char** argv, load_options& opts, scheduler::driver_config& cfg) {
  double cpus = 0.1;
  int64_t seed = 1;
  cli::flags f{"agora load",
               "Runs N tasks through F frameworks, as fast as offers allow or at a rate, and "
               "measures placements per second and accept-to-RUNNING latency."};
  f.add("master", &opts.master,
        "the master's actor endpoint HOST:PORT, or zk://HOST:PORT[,...]/PATH to follow the "
        "leader");
  f.add("tasks", &opts.tasks, "number of tasks over all frameworks");
  f.add_custom("rate", "max",
               "tasks launched per second over all frameworks (a token bucket), or max: as fast "
               "as offers allow",
               [&opts](const std::string& v, std::string& err) {
                 if (v == "max") {
                   opts.rate.reset();
                   return true;
                 }
                 char* end = nullptr;
                 double r = std::strtod(v.c_str(), &end);
                 if (v.empty() || *end != '\0' || !std::isfinite(r) || r <= 0 || r > 1e7) {
                   err = "'" + v + "' is not a positive number of tasks per second or max";
                   return false;
                 }
                 opts.rate = r;
                 return true;
               });
  f.add_custom("task-duration", opts.task_duration.to_string(),
               "how long each task sleeps: a duration (2s, 500ms), uniform:MIN:MAX or exp:MEAN; "
               "the command is `sleep SECONDS`",
               [&opts](const std::string& v, std::string& err) {
                 return duration_distribution::parse(v, opts.task_duration, err);
               });
  f.add("frameworks", &opts.frameworks, "number of frameworks, each with its own driver");
  f.add_custom("roles", "*", "roles, comma-separated, assigned to the frameworks round-robin",
               [&opts](const std::string& v, std::string& err) {
                 std::vector<std::string> roles;
                 for (size_t pos = 0; pos <= v.size();) {
                   auto comma = v.find(',', pos);
                   auto role =
                       v.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
                   if (auto why = protocol::role_error(role); !why.empty()) {
                     err = "'" + role + "': " + why;
                     return false;
                   }
                   roles.push_back(role);
                   if (comma == std::string::npos) break;
                   pos = comma + 1;
                 }
                 opts.roles = std::move(roles);
                 return true;
               });
  f.add("cpus", &cpus, "CPUs per task");
  f.add_custom("mem", "32MiB", "memory per task, with a unit (e.g. 64MiB)",
               [&opts](const std::string& v, std::string& err) {
                 return protocol::parse_bytes(v, opts.task_resources.mem_bytes, err);
               });
  f.add("command", &opts.command, "shell command of every task, instead of `sleep DURATION`");
  f.add("progress-interval", &opts.progress_interval,
        "print a progress line on stderr this often (0ms: never)");
  f.add("timeout", &opts.timeout, "give up after this long, exit 124 (0ms: never)");
  f.add("json", &opts.json, "print the figures as one JSON object instead of a table");
  f.add("seed", &seed, "seed of the task durations drawn");
  std::string secret_file;
  f.add("principal", &cfg.framework.principal,
        "principal of every framework (with --secret-file: authenticate as it)");
  f.add("secret-file", &secret_file,
        "file holding the principal's secret (readable by its owner only)");
  f.add("spawn-baseline", &opts.spawn_baseline,
        "first start this many `/bin/sh -c true` processes one at a time and report the rate "
        "(0: skip)");
  cli::add_tls_flags(f, &opts.tls.cert_file, &opts.tls.key_file, &opts.tls.ca_file);
  std::vector<std::string> args(argv + 2, argv + argc);
  std::string error;
  if (!f.parse(args, error)) return error;
  if (f.help_requested()) {
    std::cout << f.usage();
    std::exit(0);
  }
  if (!f.positional().empty()) return "unexpected argument '" + f.positional()[0] + "'";
  // Two vectors of per-task records: 9 bytes a task.
  if (opts.tasks < 1 || opts.tasks > 10'000'000) return "--tasks: must be between 1 and 10000000";
  if (opts.frameworks < 1 || opts.frameworks > 10000)
    return "--frameworks: must be between 1 and 10000";
  if (!(cpus > 0) || cpus > 1e6) return "--cpus: must be a positive number";
  opts.task_resources.cpus_milli = static_cast<int64_t>(cpus * 1000 + 0.5);
  if (opts.task_resources.cpus_milli == 0) return "--cpus: must be at least 0.001";
  if (opts.task_resources.mem_bytes <= 0) return "--mem: must be positive";
  if (!opts.command.empty() && f.given("task-duration"))
    return "--task-duration: not used with --command (the command sets how long a task runs)";
  if (f.given("command") && opts.command.empty()) return "--command: must not be empty";
  if (opts.spawn_baseline < 0 || opts.spawn_baseline > 100000)
    return "--spawn-baseline: must be between 0 and 100000";
  if (auto bad = auth::read_client_secret(cfg.framework.principal, secret_file, false, cfg.secret);
      !bad.empty())
    return bad;
  opts.seed = static_cast<uint64_t>(seed);
  if (!discovery::check_master_spec(opts.master, error)) return "--master: " + error;
  if (auto tls = protocol::check_tls_options(opts.tls); !tls.empty()) return tls;
  if (discovery::is_zk_url(opts.master))
    cfg.master_url = opts.master;
  else if (!cli::parse_host_port(opts.master, cfg.master_host, cfg.master_port, error))
    return "--master: " + error;
  return {};
}

}  // namespace

int run_load(int argc, char** argv) {
  block_termination_signals();
  load_options opts;
  scheduler::driver_config base;
  if (auto error = parse_flags(argc, argv, opts, base); !error.empty()) {
    std::cerr << "agora load: error: " << error << "\n"
              << "run 'agora load --help' for the list of flags\n";
    return 2;
  }
  load_report report;
  if (opts.spawn_baseline > 0)
    report.spawn_per_second =
        spawn_rate(static_cast<int>(opts.spawn_baseline), {"/bin/sh", "-c", "true"});

  caf::actor_system_config cfg;
  protocol::announce(cfg);
  protocol::load_transport(cfg, opts.tls);
  caf::actor_system sys{cfg};
  auto start = clock::now();
  auto cpu_at_start = cpu_seconds();
  auto run = std::make_shared<load_run>(opts, start);
  // SIGINT and SIGTERM end the run like a timeout: frameworks torn down
  // (their tasks killed), figures printed.
  std::thread{[run] {
    int sig = wait_for_termination_signal();
    run->end(outcome::interrupted,
             std::string{"stopped by "} + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
  }}.detach();

  caf::scoped_actor self{sys};
  std::vector<caf::actor> frameworks;
  for (int64_t i = 0; i < opts.frameworks; ++i) {
    auto dc = base;
    dc.framework.name = "agora-load-" + std::to_string(i);
    dc.framework.roles = {opts.roles[static_cast<size_t>(i) % opts.roles.size()]};
    dc.framework.min_request = opts.task_resources;
    auto fw = sys.spawn(load_framework_behavior, std::move(dc), run, static_cast<size_t>(i));
    self->monitor(fw);
    frameworks.push_back(fw);
  }

  auto deadline = opts.timeout.count() > 0 ? start + opts.timeout : clock::time_point::max();
  auto next_progress = opts.progress_interval.count() > 0 ? start + opts.progress_interval
                                                          : clock::time_point::max();
  auto before = run->counts();
  auto how = outcome::running;
  while (how == outcome::running) {
    how = run->wait(std::min({deadline, next_progress, clock::now() + std::chrono::hours{1}}));
    auto now = clock::now();
    if (how != outcome::running) break;
    if (now >= deadline) {
      run->end(outcome::timed_out, "timed out after " + format_ms(opts.timeout));
      how = outcome::timed_out;
      break;
    }
    if (now >= next_progress) {
      auto c = run->counts();
      std::cerr << progress_line(opts, c, before, seconds(now - start),
                                 seconds(opts.progress_interval))
                << std::endl;
      before = c;
      next_progress += opts.progress_interval;
    }
  }
  report.wall_seconds = seconds(clock::now() - start);
  report.cpu_seconds = cpu_seconds() - cpu_at_start;

  // Tear every framework down (the master kills what still runs) and wait
  // for the drivers to be done with the master.
  for (const auto& fw : frameworks) self->send(fw, finish_atom::value);
  size_t down = 0;
  bool all_down = true;
  while (down < frameworks.size() && all_down)
    self->receive([&](const caf::down_msg&) { ++down; },
                  caf::after(std::chrono::seconds{10}) >> [&] { all_down = false; });
  if (!all_down) {
    std::cerr << "agora load: " << frameworks.size() - down
              << " frameworks did not finish their teardown within 10 s\n";
    for (const auto& fw : frameworks) caf::anon_send_exit(fw, caf::exit_reason::user_shutdown);
  }

  report.c = run->counts();
  std::tie(report.running_us, report.decision_us) = run->latencies();
  report.framework_ids = run->framework_ids();
  report.how = how;
  report.message = run->message();
  if (how == outcome::done && report.c.finished < opts.tasks)
    report.message = std::to_string(opts.tasks - report.c.finished) + " of " +
                     std::to_string(opts.tasks) + " tasks did not finish";
  std::cout << (opts.json ? report_json(opts, report) : report_table(opts, report)) << std::flush;
  if (succeeded(opts, report)) return 0;
  std::cerr << "agora load: error: " << report.message << "\n";
  switch (how) {
    case outcome::timed_out:
      return 124;
    case outcome::interrupted:
      return 130;
    default:
      return 1;
  }
}

}  // namespace agora::main
