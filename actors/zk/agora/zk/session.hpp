#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agora/zk/error.hpp"

namespace agora::zk {

/// A session's state as its owner sees it.
///
/// connecting → connected ⇄ disconnected, then one terminal state:
/// expired, lost or closed. Nothing is reported after a terminal state.
enum class session_state {
  /// Not yet connected to any server (the initial state).
  connecting,
  /// Connected; the session is alive and operations go through.
  connected,
  /// The connection broke after the session was established; the client is
  /// reconnecting and the session (with its ephemeral nodes and watches)
  /// may still be alive on the servers.
  disconnected,
  /// A server told the client that the session expired: its ephemeral
  /// nodes are gone. Terminal.
  expired,
  /// Disconnected for longer than the negotiated session timeout, measured
  /// by this client's own timer: the servers have most likely expired the
  /// session (the client only learns that once it reaches a server again,
  /// which may be never). Owners must act as if it expired, e.g. a leading
  /// master must stop leading. Terminal.
  lost,
  /// Closed by its owner (`session::close` or destruction). Terminal.
  closed,
};

/// Returns the state's name, e.g. "connected".
std::string_view to_string(session_state state);

/// Returns true for the terminal states: expired, lost and closed.
bool is_terminal(session_state state);

/// How `session::create` makes a node.
enum class create_mode {
  /// A node that stays until removed.
  persistent,
  /// A node removed when the creating session ends (closed or expired).
  ephemeral,
  /// A persistent node whose name gets a 10-digit, per-parent increasing
  /// sequence number appended.
  persistent_sequential,
  /// An ephemeral node whose name gets a sequence number appended (the
  /// building block of leader election).
  ephemeral_sequential,
};

/// The metadata of a znode (a subset of ZooKeeper's `Stat`).
struct node_stat {
  /// The data version, 0 after create, +1 per `set`: the compare-and-set
  /// token.
  int32_t version = 0;
  /// The children version, +1 per child created or removed.
  int32_t cversion = 0;
  /// The transaction id that created the node.
  int64_t czxid = 0;
  /// The transaction id that last modified the node's data.
  int64_t mzxid = 0;
  /// The owning session's id for an ephemeral node, 0 otherwise.
  int64_t ephemeral_owner = 0;
  /// The data's length in bytes.
  int32_t data_length = 0;
  /// The number of children.
  int32_t num_children = 0;
};

/// A znode's data with its metadata.
struct node {
  /// The data (empty for a node created without data).
  std::string data;
  /// The metadata; `stat.version` is what `set` expects for a
  /// compare-and-set.
  node_stat stat;
};

/// What fired a watch.
enum class watch_event_type {
  /// The watched node was created (exists watch on an absent node).
  created,
  /// The watched node was removed.
  deleted,
  /// The watched node's data changed.
  changed,
  /// A child was created or removed under the watched node.
  children_changed,
  /// The session ended (expired, lost or closed) before anything fired;
  /// the watch will never fire.
  session_ended,
};

/// A watch notification.
struct watch_event {
  /// What happened.
  watch_event_type type = watch_event_type::session_ended;
  /// The watched path ("" for `session_ended`).
  std::string path;
};

/// A one-shot watch: called at most once. Runs on the ZooKeeper client's
/// event thread (or, for `session_ended` after `lost` or `close`, on the
/// thread that ended the session): it must return quickly and must not call
/// the session's blocking operations (they fail with `errc::wrong_thread`);
/// hand the work to another thread instead.
using watch_callback = std::function<void(const watch_event&)>;

/// A state listener. Runs on the ZooKeeper client's event thread, except
/// `lost` (reported by the session's timer thread) and `closed` (reported
/// on the thread calling `close`). Calls are serialized, never concurrent.
/// The same rules as for `watch_callback` apply.
using state_callback = std::function<void(session_state)>;

/// `set`/`remove` with this version skip the compare (unconditional write).
constexpr int32_t any_version = -1;

/// The largest data this module writes into one znode: ZooKeeper refuses a
/// request larger than its `jute.maxbuffer` (0xfffff bytes by default,
/// including the path and headers) by dropping the connection, so larger
/// data is rejected up front with `errc::too_large`.
constexpr std::size_t max_data_bytes = 1024 * 1024 - 4096;

/// How to open a `session`.
struct session_options {
  /// The servers, `"h1:p1,h2:p2"` (see `zk_url::connect_string`).
  std::string connect_string;
  /// The requested session timeout. Servers clamp it to
  /// [2, 20] x their tickTime; the negotiated value is
  /// `session::negotiated_timeout()`.
  std::chrono::milliseconds session_timeout = std::chrono::seconds(10);
  /// The longest any blocking operation waits for its reply before
  /// returning `errc::timeout`; zero means the session timeout.
  std::chrono::milliseconds operation_timeout = std::chrono::milliseconds(0);
  /// A first state listener, registered before the client starts so that
  /// it sees every state from the first `connected` on (optional).
  state_callback on_state;
};

/// A ZooKeeper session: an RAII wrapper of the multi-threaded C client's
/// `zhandle_t`.
///
/// Operations are synchronous on the caller's thread, each waiting at most
/// `session_options::operation_timeout`, so they never hang when the
/// ensemble is gone; callers in actors run them on their own threads, never
/// on an actor's (or a session callback's) thread. They are thread-safe.
///
/// The C client only reports an expired session once it reaches a server
/// again, so the session also keeps its own timer: disconnected for longer
/// than the negotiated timeout, it reports `session_state::lost` and refuses
/// further operations (`errc::session_lost`).
///
/// The C client logs only errors (the level is process-wide), to stderr,
/// and a message repeated while it retries an unreachable server at most
/// every 30 s.
class session {
 public:
  /// Starts a session with `options` (connecting happens in the background;
  /// see `wait_connected`). Returns `errc::invalid_argument` for an empty
  /// connect string, a non-positive timeout or a host that does not
  /// resolve, and `errc::other` when the C client cannot start.
  static result<std::unique_ptr<session>> open(session_options options);

  /// Closes the session (see `close`). Must not be called from one of this
  /// session's callbacks.
  ~session();

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Returns the current state.
  session_state state() const;

  /// Waits up to `timeout` until the session is connected. Returns success
  /// once connected, `errc::timeout` when still not connected at the
  /// deadline, or the terminal state's error.
  result<void> wait_connected(std::chrono::milliseconds timeout) const;

  /// Returns the session timeout the server granted (0 before the first
  /// connection).
  std::chrono::milliseconds negotiated_timeout() const;

  /// Returns the session id (0 before the first connection); ephemeral
  /// nodes of this session carry it as `node_stat::ephemeral_owner`.
  int64_t id() const;

  /// Returns `"ip:port"` of the server this session is connected to, "" when
  /// not connected.
  std::string connected_server() const;

  /// Adds a state listener; returns its id for `unsubscribe`. It sees the
  /// changes after this call (read `state()` for the current one).
  uint64_t subscribe(state_callback callback);

  /// Removes a listener. When this returns, the listener is not running
  /// and will not be called again (unless called from the listener itself,
  /// which is allowed).
  void unsubscribe(uint64_t id);

  /// Creates `path` with `data`. Returns the created path (with the
  /// sequence number for sequential modes); `errc::node_exists`,
  /// `errc::no_node` (no parent), `errc::too_large` or a connection error.
  result<std::string> create(const std::string& path, const std::string& data, create_mode mode);

  /// Creates `path` and its missing ancestors as empty persistent nodes;
  /// succeeds when they exist already.
  result<void> ensure_path(const std::string& path);

  /// Returns the node's data and metadata, or `errc::no_node`. With
  /// `watch`, arms a one-shot watch for the node's change or removal (only
  /// when the node exists).
  result<node> get(const std::string& path, watch_callback watch = {});

  /// Returns the node's metadata, or nullopt when it does not exist. With
  /// `watch`, arms a one-shot watch in both cases (creation, change or
  /// removal).
  result<std::optional<node_stat>> exists(const std::string& path, watch_callback watch = {});

  /// Compare-and-set: replaces the data if the node's version is
  /// `expected_version` (or unconditionally with `any_version`). Returns the
  /// new metadata; `errc::bad_version` when another write came first,
  /// `errc::no_node` when the node is absent, `errc::connection_loss` or
  /// `errc::timeout` when the outcome is unknown.
  result<node_stat> set(const std::string& path, const std::string& data, int32_t expected_version);

  /// Removes the node if its version is `expected_version` (or
  /// unconditionally with `any_version`). Returns `errc::bad_version`,
  /// `errc::no_node`, `errc::not_empty` or a connection error.
  result<void> remove(const std::string& path, int32_t expected_version);

  /// Returns the names (not paths) of the node's children, unsorted, or
  /// `errc::no_node`. With `watch`, arms a one-shot watch for a child's
  /// creation or removal or the node's removal (only when it exists).
  result<std::vector<std::string>> get_children(const std::string& path, watch_callback watch = {});

  /// Ends the session now: the servers remove its ephemeral nodes at once
  /// (when connected), listeners see `closed` (unless already terminal),
  /// armed watches see `session_ended`, and later operations fail with
  /// `errc::closed`. Waits at most a few seconds to deliver the close.
  /// Returns `errc::wrong_thread` when called from a session callback.
  result<void> close();

 private:
  struct impl;
  explicit session(std::unique_ptr<impl> impl);

  std::unique_ptr<impl> impl_;
};

}  // namespace agora::zk
