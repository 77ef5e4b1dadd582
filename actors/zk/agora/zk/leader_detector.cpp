#include "agora/zk/leader_detector.hpp"

#include <algorithm>
#include <condition_variable>
#include <utility>

#include "agora/zk/detail/group.hpp"
#include "agora/zk/detail/worker.hpp"
#include "agora/zk/path.hpp"

namespace agora::zk {

result<std::unique_ptr<leader_detector>> leader_detector::start(const zk_url& url,
                                                                detector_callback on_change,
                                                                detector_options options) {
  if (!on_change)
    return make_error(errc::invalid_argument, "leader_detector needs an on_change callback");
  if (auto checked = check_path(url.root); !checked) return checked.err();
  if (url.connect_string.empty())
    return make_error(errc::invalid_argument, "empty ZooKeeper connect string");
  return std::unique_ptr<leader_detector>(
      new leader_detector(url, std::move(on_change), std::move(options)));
}

leader_detector::leader_detector(zk_url url, detector_callback on_change, detector_options options)
    : url_(std::move(url)),
      on_change_(std::move(on_change)),
      options_(options),
      dir_(join_path(url_.root, "leader")) {
  worker_ = std::make_shared<detail::worker>([this] { step(); });
  worker_->poke();
}

leader_detector::~leader_detector() {
  worker_->stop();
  session_.reset();
}

std::optional<leader_info> leader_detector::leader() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void leader_detector::report(const std::optional<leader_info>& leader) {
  {
    std::lock_guard lock(mutex_);
    if (reported_ && leader == last_) return;
    last_ = leader;
    reported_ = true;
  }
  on_change_(leader);
}

void leader_detector::step() {
  if (session_ && is_terminal(session_->state())) {
    // The session ended: whoever leads now is unknown until a new session
    // reads the group.
    session_.reset();
    report(std::nullopt);
  }
  if (!session_) {
    session_options so;
    so.connect_string = url_.connect_string;
    so.session_timeout = options_.session_timeout;
    so.operation_timeout = options_.operation_timeout;
    so.on_state = [poke = detail::poker(worker_)](session_state) { poke(); };
    auto opened = session::open(std::move(so));
    if (!opened) {
      worker_->poke_after(options_.retry_delay);
      return;
    }
    session_ = std::move(opened).value();
  }
  if (session_->state() != session_state::connected) return;  // A state change pokes us.
  auto snapshot = detail::read_group(*session_, dir_, detail::poker(worker_));
  if (!snapshot) {
    worker_->poke_after(options_.retry_delay);
    return;
  }
  report(snapshot.value().leader);
}

result<leader_info> detect_leader(const zk_url& url, std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
  };
  session_options so;
  so.connect_string = url.connect_string;
  so.operation_timeout = left();
  auto opened = session::open(std::move(so));
  if (!opened) return opened.err();
  auto& s = *opened.value();
  if (auto connected = s.wait_connected(left()); !connected) return connected.err();
  std::string dir = join_path(url.root, "leader");
  // Shared with the watch, which may fire after we return.
  struct signal {
    std::mutex mutex;
    std::condition_variable cv;
    bool changed = false;
  };
  auto sig = std::make_shared<signal>();
  for (;;) {
    {
      std::lock_guard lock(sig->mutex);
      sig->changed = false;
    }
    auto snapshot = detail::read_group(s, dir, [sig] {
      std::lock_guard lock(sig->mutex);
      sig->changed = true;
      sig->cv.notify_all();
    });
    if (!snapshot) {
      // A connection problem: retry on a connection until the deadline.
      errc code = snapshot.code();
      if ((code != errc::connection_loss && code != errc::timeout) || clock::now() >= deadline)
        return snapshot.err();
      if (auto connected = s.wait_connected(left()); !connected) return connected.err();
      continue;
    }
    if (snapshot.value().leader) return *snapshot.value().leader;
    std::unique_lock lock(sig->mutex);
    if (!sig->cv.wait_until(lock, deadline, [&] { return sig->changed; }))
      return make_error(errc::timeout, "no leader under " + dir + " at " + url.connect_string +
                                           " within " + std::to_string(timeout.count()) + " ms");
  }
}

result<leader_info> detect_leader(std::string_view url, std::chrono::milliseconds timeout) {
  auto parsed = zk_url::parse(url);
  if (!parsed) return parsed.err();
  return detect_leader(parsed.value(), timeout);
}

}  // namespace agora::zk
