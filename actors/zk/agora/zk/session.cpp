#include "agora/zk/session.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <zookeeper/zookeeper.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "agora/zk/path.hpp"

namespace agora::zk {

namespace {

using clock = std::chrono::steady_clock;

// How deep the current thread is inside this module's callbacks (the C
// client's event thread, or a thread delivering `lost`/`closed`). Blocking
// operations refuse to run there: on the event thread they would wait for
// a reply only that thread can deliver.
thread_local int callback_depth = 0;

struct callback_scope {
  callback_scope() { ++callback_depth; }
  ~callback_scope() { --callback_depth; }
  callback_scope(const callback_scope&) = delete;
  callback_scope& operator=(const callback_scope&) = delete;
};

error wrong_thread_error(std::string_view what) {
  return make_error(
      errc::wrong_thread,
      std::string(what) + " called from a ZooKeeper callback (it would block the event thread)");
}

void quiet_client_log() {
  static std::once_flag once;
  std::call_once(once, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR); });
}

// The C client's log, errors only, to stderr, with repeats thinned out: a
// client retrying an unreachable server logs the same error every few tens
// of milliseconds. A message (its text after the timestamp and thread id)
// is written the first time and then at most once per `repeat_interval`,
// with the number of repeats left out.
void log_client_message(const char* message) {
  constexpr auto repeat_interval = std::chrono::seconds(30);
  struct seen {
    clock::time_point last;
    long suppressed = 0;
  };
  static std::mutex mutex;
  static std::map<std::string, seen> messages;
  if (message == nullptr) return;
  std::string_view text(message);
  auto at = text.find("ZOO_");
  std::string key(at == std::string_view::npos ? text : text.substr(at));
  long suppressed = 0;
  {
    std::lock_guard lock(mutex);
    auto now = clock::now();
    auto it = messages.find(key);
    if (it != messages.end() && now - it->second.last < repeat_interval) {
      ++it->second.suppressed;
      return;
    }
    if (messages.size() > 256) messages.clear();  // Bounded memory.
    seen& entry = messages[key];
    suppressed = entry.suppressed;
    entry = seen{now, 0};
  }
  std::string line(text);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (suppressed > 0) line += " (repeated " + std::to_string(suppressed) + " times since)";
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

error from_rc(int rc, std::string_view op, std::string_view path) {
  std::string message = std::string(op) + " " + std::string(path) + ": " + zerror(rc);
  errc code = errc::other;
  if (rc == ZNONODE) {
    code = errc::no_node;
  } else if (rc == ZNODEEXISTS) {
    code = errc::node_exists;
  } else if (rc == ZBADVERSION) {
    code = errc::bad_version;
  } else if (rc == ZNOTEMPTY) {
    code = errc::not_empty;
  } else if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) {
    code = errc::connection_loss;
  } else if (rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE) {
    code = errc::session_expired;
  } else if (rc == ZCLOSING) {
    code = errc::closed;
  } else if (rc == ZBADARGUMENTS) {
    code = errc::invalid_argument;
  }
  return make_error(code, std::move(message));
}

node_stat from_stat(const Stat& s) {
  node_stat out;
  out.version = s.version;
  out.cversion = s.cversion;
  out.czxid = s.czxid;
  out.mzxid = s.mzxid;
  out.ephemeral_owner = s.ephemeralOwner;
  out.data_length = s.dataLength;
  out.num_children = s.numChildren;
  return out;
}

int create_flags(create_mode mode) {
  switch (mode) {
    case create_mode::persistent:
      return ZOO_PERSISTENT;
    case create_mode::ephemeral:
      return ZOO_EPHEMERAL;
    case create_mode::persistent_sequential:
      return ZOO_PERSISTENT_SEQUENTIAL;
    case create_mode::ephemeral_sequential:
      return ZOO_EPHEMERAL_SEQUENTIAL;
  }
  return ZOO_PERSISTENT;
}

// Which kind of watch an operation arms; decides whether the C client kept
// it for a given reply code.
enum class watch_kind { none, data, exists, children };

bool watch_armed(watch_kind kind, int rc) {
  switch (kind) {
    case watch_kind::none:
      return false;
    case watch_kind::data:
    case watch_kind::children:
      return rc == ZOK;
    case watch_kind::exists:
      return rc == ZOK || rc == ZNONODE;
  }
  return false;
}

}  // namespace

std::string_view to_string(session_state state) {
  switch (state) {
    case session_state::connecting:
      return "connecting";
    case session_state::connected:
      return "connected";
    case session_state::disconnected:
      return "disconnected";
    case session_state::expired:
      return "expired";
    case session_state::lost:
      return "lost";
    case session_state::closed:
      return "closed";
  }
  return "unknown";
}

bool is_terminal(session_state state) {
  return state == session_state::expired || state == session_state::lost ||
         state == session_state::closed;
}

// --- impl ------------------------------------------------------------------

struct session::impl {
  // One in-flight request: filled by a completion on the C client's thread,
  // awaited (bounded) by the caller. Shared, because the caller may give up
  // waiting before the completion runs.
  struct pending {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    int rc = ZOK;
    std::string value;
    std::vector<std::string> strings;
    Stat stat{};
    bool has_stat = false;
    impl* owner = nullptr;
    uint64_t watch_id = 0;
    watch_kind kind = watch_kind::none;
  };

  session_options options;

  // Guards `zh` against `close` while a request is being queued.
  mutable std::shared_mutex handle_mutex;
  zhandle_t* zh = nullptr;

  // Serializes every call of user callbacks (listeners and watches). Taken
  // before `mutex`; recursive so that a listener may unsubscribe itself.
  std::recursive_mutex delivery_mutex;

  mutable std::mutex mutex;
  mutable std::condition_variable cv;
  session_state state = session_state::connecting;
  bool ever_connected = false;
  clock::time_point disconnected_since;
  std::chrono::milliseconds negotiated{0};
  int64_t session_id = 0;
  bool stopping = false;
  std::map<uint64_t, std::shared_ptr<state_callback>> subscribers;
  uint64_t next_subscriber = 1;
  std::map<uint64_t, watch_callback> watches;
  uint64_t next_watch = 1;
  std::thread timer;

  std::chrono::milliseconds op_timeout() const {
    return options.operation_timeout.count() > 0 ? options.operation_timeout
                                                 : options.session_timeout;
  }

  // Returns the error for operations in `s`, or an `ok` error when they may
  // proceed.
  static error state_error(session_state s) {
    switch (s) {
      case session_state::expired:
        return make_error(errc::session_expired, "the ZooKeeper session expired");
      case session_state::lost:
        return make_error(errc::session_lost,
                          "the ZooKeeper session was disconnected for longer than its timeout");
      case session_state::closed:
        return make_error(errc::closed, "the ZooKeeper session is closed");
      default:
        return {};
    }
  }

  // Moves to `to` and tells the listeners, unless the state is terminal
  // already or unchanged; `only_if` (called under `mutex`) may veto the
  // move. A terminal state also ends every armed watch. Caller holds
  // `delivery_mutex`.
  void transition(session_state to, const std::function<bool()>& only_if = {}) {
    std::vector<std::pair<uint64_t, std::shared_ptr<state_callback>>> listeners;
    std::vector<watch_callback> ended;
    {
      std::lock_guard lock(mutex);
      if (is_terminal(state) || state == to) return;
      if (only_if && !only_if()) return;
      if (to == session_state::disconnected) disconnected_since = clock::now();
      state = to;
      if (is_terminal(to)) {
        for (auto& [id, watch] : watches) ended.push_back(std::move(watch));
        watches.clear();
      }
      listeners.assign(subscribers.begin(), subscribers.end());
      cv.notify_all();
    }
    callback_scope scope;
    for (auto& [id, listener] : listeners) {
      bool still_subscribed = false;
      {
        std::lock_guard lock(mutex);
        still_subscribed = subscribers.count(id) > 0;
      }
      if (still_subscribed && *listener) (*listener)(to);
    }
    for (auto& watch : ended)
      if (watch) watch(watch_event{watch_event_type::session_ended, {}});
  }

  // The global watcher: session events only (watches use `on_watch`).
  static void on_session_event(zhandle_t* zh, int type, int zstate, const char*, void* context) {
    if (type != ZOO_SESSION_EVENT) return;
    callback_scope scope;
    auto* self = static_cast<impl*>(context);
    std::lock_guard delivery(self->delivery_mutex);
    if (zstate == ZOO_CONNECTED_STATE) {
      {
        std::lock_guard lock(self->mutex);
        self->negotiated = std::chrono::milliseconds(zoo_recv_timeout(zh));
        if (const clientid_t* client = zoo_client_id(zh)) self->session_id = client->client_id;
        self->ever_connected = true;
      }
      self->transition(session_state::connected);
    } else if (zstate == ZOO_CONNECTING_STATE || zstate == ZOO_ASSOCIATING_STATE) {
      bool was_connected = false;
      {
        std::lock_guard lock(self->mutex);
        was_connected = self->ever_connected;
      }
      self->transition(was_connected ? session_state::disconnected : session_state::connecting);
    } else if (zstate == ZOO_EXPIRED_SESSION_STATE || zstate == ZOO_AUTH_FAILED_STATE) {
      self->transition(session_state::expired);
    }
  }

  // The watcher of one armed watch; `context` is the watch's id.
  static void on_watch(zhandle_t* zh, int type, int, const char* path, void* context) {
    // Session events reach every armed watcher too; the global watcher
    // handles them (and a terminal state ends all watches).
    if (type == ZOO_SESSION_EVENT || type == ZOO_NOTWATCHING_EVENT) return;
    callback_scope scope;
    auto* self = static_cast<impl*>(const_cast<void*>(zoo_get_context(zh)));
    auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(context));
    std::lock_guard delivery(self->delivery_mutex);
    watch_callback watch;
    {
      std::lock_guard lock(self->mutex);
      auto it = self->watches.find(id);
      if (it == self->watches.end()) return;
      watch = std::move(it->second);
      self->watches.erase(it);
    }
    watch_event event;
    event.path = path != nullptr ? path : "";
    if (type == ZOO_CREATED_EVENT) {
      event.type = watch_event_type::created;
    } else if (type == ZOO_DELETED_EVENT) {
      event.type = watch_event_type::deleted;
    } else if (type == ZOO_CHANGED_EVENT) {
      event.type = watch_event_type::changed;
    } else {
      event.type = watch_event_type::children_changed;
    }
    if (watch) watch(event);
  }

  // Takes ownership of the completion's `data` (a heap-allocated
  // shared_ptr), records `rc`, lets `fill` copy the reply, forgets a watch
  // the C client did not arm, and wakes the caller.
  template <class Fill>
  static void complete(int rc, const void* data, Fill&& fill) {
    callback_scope scope;
    auto* holder = static_cast<std::shared_ptr<pending>*>(const_cast<void*>(data));
    std::shared_ptr<pending> op = std::move(*holder);
    delete holder;
    if (op->watch_id != 0 && !watch_armed(op->kind, rc)) {
      std::lock_guard lock(op->owner->mutex);
      op->owner->watches.erase(op->watch_id);
    }
    std::lock_guard lock(op->mutex);
    op->rc = rc;
    fill(*op);
    op->done = true;
    op->cv.notify_all();
  }

  static void on_string(int rc, const char* value, const void* data) {
    complete(rc, data, [&](pending& op) {
      if (rc == ZOK && value != nullptr) op.value = value;
    });
  }

  static void on_data(int rc, const char* value, int len, const Stat* stat, const void* data) {
    complete(rc, data, [&](pending& op) {
      if (rc != ZOK) return;
      if (value != nullptr && len > 0) op.value.assign(value, static_cast<std::size_t>(len));
      if (stat != nullptr) op.stat = *stat, op.has_stat = true;
    });
  }

  static void on_stat(int rc, const Stat* stat, const void* data) {
    complete(rc, data, [&](pending& op) {
      if (rc == ZOK && stat != nullptr) op.stat = *stat, op.has_stat = true;
    });
  }

  static void on_strings(int rc, const String_vector* strings, const void* data) {
    complete(rc, data, [&](pending& op) {
      if (rc != ZOK || strings == nullptr) return;
      for (int32_t i = 0; i < strings->count; ++i) op.strings.emplace_back(strings->data[i]);
    });
  }

  static void on_void(int rc, const void* data) {
    complete(rc, data, [](pending&) {});
  }

  // Checks the thread and the state; returns an error when an operation
  // must not start.
  error precheck(std::string_view what) const {
    if (callback_depth > 0) return wrong_thread_error(what);
    std::lock_guard lock(mutex);
    return state_error(state);
  }

  // Registers `watch` (if any) and returns its id, 0 without a watch.
  uint64_t add_watch(watch_callback watch) {
    if (!watch) return 0;
    std::lock_guard lock(mutex);
    uint64_t id = next_watch++;
    watches.emplace(id, std::move(watch));
    return id;
  }

  void drop_watch(uint64_t id) {
    if (id == 0) return;
    std::lock_guard lock(mutex);
    watches.erase(id);
  }

  // Queues a request through `issue(zh, data)` (a `zoo_a*` call) and waits
  // (bounded) for its completion. Returns the finished request, or an
  // error when it could not be queued or the wait timed out.
  template <class Issue>
  result<std::shared_ptr<pending>> run(std::string_view op_name, std::string_view path,
                                       uint64_t watch_id, watch_kind kind, Issue&& issue) {
    auto op = std::make_shared<pending>();
    op->owner = this;
    op->watch_id = watch_id;
    op->kind = kind;
    int rc = ZOK;
    {
      std::shared_lock handle(handle_mutex);
      if (zh == nullptr) {
        drop_watch(watch_id);
        std::lock_guard lock(mutex);
        error e = state_error(state);
        return e.code != errc::ok ? e : make_error(errc::closed, "the ZooKeeper session is closed");
      }
      auto* holder = new std::shared_ptr<pending>(op);
      rc = issue(zh, static_cast<const void*>(holder));
      if (rc != ZOK) {
        // The completion was not registered for argument and state errors
        // (they are checked before); for a marshalling error it may have
        // been, so leave the holder to it (a leak at worst, never a
        // double free).
        if (rc == ZBADARGUMENTS || rc == ZINVALIDSTATE) delete holder;
        drop_watch(watch_id);
        return from_rc(rc, op_name, path);
      }
    }
    std::unique_lock lock(op->mutex);
    if (!op->cv.wait_for(lock, op_timeout(), [&] { return op->done; })) {
      return make_error(errc::timeout, std::string(op_name) + " " + std::string(path) +
                                           ": no reply within " +
                                           std::to_string(op_timeout().count()) + " ms");
    }
    return op;
  }

  void run_timer() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      if (state != session_state::disconnected || negotiated.count() <= 0) {
        cv.wait(lock);
        continue;
      }
      auto deadline = disconnected_since + negotiated;
      if (clock::now() < deadline) {
        cv.wait_until(lock, deadline);
        continue;
      }
      lock.unlock();
      {
        std::lock_guard delivery(delivery_mutex);
        // Still disconnected past the deadline? (A reconnect may have won.)
        transition(session_state::lost, [&] {
          return state == session_state::disconnected &&
                 clock::now() >= disconnected_since + negotiated;
        });
      }
      lock.lock();
    }
  }
};

// --- session ---------------------------------------------------------------

session::session(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {}

result<std::unique_ptr<session>> session::open(session_options options) {
  if (options.connect_string.empty())
    return make_error(errc::invalid_argument, "empty ZooKeeper connect string");
  if (options.session_timeout.count() <= 0)
    return make_error(errc::invalid_argument, "the session timeout must be positive");
  if (options.operation_timeout.count() < 0)
    return make_error(errc::invalid_argument, "the operation timeout must not be negative");
  quiet_client_log();
  auto state = std::make_unique<impl>();
  state->options = std::move(options);
  if (state->options.on_state)
    state->subscribers.emplace(0, std::make_shared<state_callback>(state->options.on_state));
  impl* raw = state.get();
  errno = 0;
  zhandle_t* zh = zookeeper_init2(raw->options.connect_string.c_str(), &impl::on_session_event,
                                  static_cast<int>(raw->options.session_timeout.count()), nullptr,
                                  raw, 0, &log_client_message);
  if (zh == nullptr) {
    int err = errno;
    // The client reports hosts that do not resolve as ENOENT or EINVAL.
    if (err == ENOENT || err == EINVAL)
      return make_error(errc::invalid_argument,
                        "no usable ZooKeeper server address in '" + raw->options.connect_string +
                            "' (a host does not resolve, or not HOST:PORT)");
    return make_error(errc::other, "cannot start a ZooKeeper client for '" +
                                       raw->options.connect_string +
                                       "': " + (err != 0 ? std::strerror(err) : "unknown error"));
  }
  {
    std::unique_lock handle(raw->handle_mutex);
    raw->zh = zh;
  }
  raw->timer = std::thread([raw] { raw->run_timer(); });
  return std::unique_ptr<session>(new session(std::move(state)));
}

session::~session() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->cv.notify_all();
  }
  if (impl_->timer.joinable()) impl_->timer.join();
  close();
}

session_state session::state() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->state;
}

result<void> session::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  impl_->cv.wait_for(lock, timeout, [&] {
    return impl_->state == session_state::connected || is_terminal(impl_->state);
  });
  if (impl_->state == session_state::connected) return {};
  if (error e = impl::state_error(impl_->state); e.code != errc::ok) return e;
  return make_error(errc::timeout, "not connected to ZooKeeper at " +
                                       impl_->options.connect_string + " within " +
                                       std::to_string(timeout.count()) + " ms");
}

std::chrono::milliseconds session::negotiated_timeout() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->negotiated;
}

int64_t session::id() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->session_id;
}

std::string session::connected_server() const {
  if (state() != session_state::connected) return {};
  std::shared_lock handle(impl_->handle_mutex);
  if (impl_->zh == nullptr) return {};
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (zookeeper_get_connected_host(impl_->zh, reinterpret_cast<sockaddr*>(&addr), &len) == nullptr)
    return {};
  char host[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return {};
}

uint64_t session::subscribe(state_callback callback) {
  std::lock_guard lock(impl_->mutex);
  uint64_t id = impl_->next_subscriber++;
  impl_->subscribers.emplace(id, std::make_shared<state_callback>(std::move(callback)));
  return id;
}

void session::unsubscribe(uint64_t id) {
  // Waits for a delivery in progress on another thread (the lock is
  // recursive, so a listener may unsubscribe itself).
  std::lock_guard delivery(impl_->delivery_mutex);
  std::lock_guard lock(impl_->mutex);
  impl_->subscribers.erase(id);
}

result<std::string> session::create(const std::string& path, const std::string& data,
                                    create_mode mode) {
  if (auto checked = check_path(path); !checked) return checked.err();
  if (data.size() > max_data_bytes)
    return make_error(errc::too_large, "create " + path + ": " + std::to_string(data.size()) +
                                           " bytes of data exceed the limit of " +
                                           std::to_string(max_data_bytes) + " bytes per znode");
  if (error e = impl_->precheck("create"); e.code != errc::ok) return e;
  int flags = create_flags(mode);
  auto done = impl_->run("create", path, 0, watch_kind::none, [&](zhandle_t* zh, const void* ctx) {
    return zoo_acreate(zh, path.c_str(), data.data(), static_cast<int>(data.size()),
                       &ZOO_OPEN_ACL_UNSAFE, flags, &impl::on_string, ctx);
  });
  if (!done) return done.err();
  auto& op = *done.value();
  if (op.rc != ZOK) return from_rc(op.rc, "create", path);
  return op.value;
}

result<void> session::ensure_path(const std::string& path) {
  if (auto checked = check_path(path); !checked) return checked.err();
  auto present = exists(path);
  if (!present) return present.err();
  if (present.value()) return {};
  for (std::size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    auto created = create(prefix, {}, create_mode::persistent);
    if (!created && created.code() != errc::node_exists) return created.err();
    if (slash == std::string::npos) break;
  }
  return {};
}

result<node> session::get(const std::string& path, watch_callback watch) {
  if (auto checked = check_path(path); !checked) return checked.err();
  if (error e = impl_->precheck("get"); e.code != errc::ok) return e;
  uint64_t watch_id = impl_->add_watch(std::move(watch));
  auto done =
      impl_->run("get", path, watch_id, watch_kind::data, [&](zhandle_t* zh, const void* ctx) {
        return zoo_awget(zh, path.c_str(), watch_id != 0 ? &impl::on_watch : nullptr,
                         reinterpret_cast<void*>(static_cast<uintptr_t>(watch_id)), &impl::on_data,
                         ctx);
      });
  if (!done) return done.err();
  auto& op = *done.value();
  if (op.rc != ZOK) return from_rc(op.rc, "get", path);
  node out;
  out.data = std::move(op.value);
  out.stat = from_stat(op.stat);
  return out;
}

result<std::optional<node_stat>> session::exists(const std::string& path, watch_callback watch) {
  if (auto checked = check_path(path); !checked) return checked.err();
  if (error e = impl_->precheck("exists"); e.code != errc::ok) return e;
  uint64_t watch_id = impl_->add_watch(std::move(watch));
  auto done =
      impl_->run("exists", path, watch_id, watch_kind::exists, [&](zhandle_t* zh, const void* ctx) {
        return zoo_awexists(zh, path.c_str(), watch_id != 0 ? &impl::on_watch : nullptr,
                            reinterpret_cast<void*>(static_cast<uintptr_t>(watch_id)),
                            &impl::on_stat, ctx);
      });
  if (!done) return done.err();
  auto& op = *done.value();
  if (op.rc == ZNONODE) return std::optional<node_stat>();
  if (op.rc != ZOK) return from_rc(op.rc, "exists", path);
  return std::optional<node_stat>(from_stat(op.stat));
}

result<node_stat> session::set(const std::string& path, const std::string& data,
                               int32_t expected_version) {
  if (auto checked = check_path(path); !checked) return checked.err();
  if (expected_version < any_version)
    return make_error(errc::invalid_argument, "set " + path + ": invalid expected version " +
                                                  std::to_string(expected_version));
  if (data.size() > max_data_bytes)
    return make_error(errc::too_large, "set " + path + ": " + std::to_string(data.size()) +
                                           " bytes of data exceed the limit of " +
                                           std::to_string(max_data_bytes) + " bytes per znode");
  if (error e = impl_->precheck("set"); e.code != errc::ok) return e;
  auto done = impl_->run("set", path, 0, watch_kind::none, [&](zhandle_t* zh, const void* ctx) {
    return zoo_aset(zh, path.c_str(), data.data(), static_cast<int>(data.size()), expected_version,
                    &impl::on_stat, ctx);
  });
  if (!done) return done.err();
  auto& op = *done.value();
  if (op.rc != ZOK) return from_rc(op.rc, "set", path);
  return from_stat(op.stat);
}

result<void> session::remove(const std::string& path, int32_t expected_version) {
  if (auto checked = check_path(path); !checked) return checked.err();
  if (expected_version < any_version)
    return make_error(errc::invalid_argument, "remove " + path + ": invalid expected version " +
                                                  std::to_string(expected_version));
  if (error e = impl_->precheck("remove"); e.code != errc::ok) return e;
  auto done = impl_->run("remove", path, 0, watch_kind::none, [&](zhandle_t* zh, const void* ctx) {
    return zoo_adelete(zh, path.c_str(), expected_version, &impl::on_void, ctx);
  });
  if (!done) return done.err();
  auto& op = *done.value();
  if (op.rc != ZOK) return from_rc(op.rc, "remove", path);
  return {};
}

result<std::vector<std::string>> session::get_children(const std::string& path,
                                                       watch_callback watch) {
  if (auto checked = check_path(path); !checked) return checked.err();
  if (error e = impl_->precheck("get_children"); e.code != errc::ok) return e;
  uint64_t watch_id = impl_->add_watch(std::move(watch));
  auto done = impl_->run(
      "get_children", path, watch_id, watch_kind::children, [&](zhandle_t* zh, const void* ctx) {
        return zoo_awget_children(zh, path.c_str(), watch_id != 0 ? &impl::on_watch : nullptr,
                                  reinterpret_cast<void*>(static_cast<uintptr_t>(watch_id)),
                                  &impl::on_strings, ctx);
      });
  if (!done) return done.err();
  auto& op = *done.value();
  if (op.rc != ZOK) return from_rc(op.rc, "get_children", path);
  return std::move(op.strings);
}

result<void> session::close() {
  if (callback_depth > 0) return wrong_thread_error("close");
  {
    std::lock_guard delivery(impl_->delivery_mutex);
    impl_->transition(session_state::closed);
  }
  zhandle_t* zh = nullptr;
  {
    std::unique_lock handle(impl_->handle_mutex);
    std::swap(zh, impl_->zh);
  }
  // Outside the locks: `zookeeper_close` completes pending requests with
  // ZCLOSING (their callers wake up) and joins the client's threads, which
  // may be waiting for `delivery_mutex` at this moment.
  if (zh != nullptr) zookeeper_close(zh);
  return {};
}

}  // namespace agora::zk
