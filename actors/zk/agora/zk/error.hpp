#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace agora::zk {

/// What went wrong in a ZooKeeper operation. The module's error enum: every
/// public operation returns one of these (inside an `error`) instead of
/// throwing.
enum class errc {
  /// Not an error (a default-constructed `error`).
  ok = 0,
  /// The node (or, for `create`, its parent) does not exist.
  no_node,
  /// `create` found the node already there.
  node_exists,
  /// A compare-and-set (or versioned remove) found another version: someone
  /// else wrote first.
  bad_version,
  /// `remove` found children under the node.
  not_empty,
  /// The connection to the server broke while the request was in flight, or
  /// no server could be reached: the outcome of a write is unknown.
  connection_loss,
  /// The bounded wait for a reply expired: the outcome of a write is unknown.
  timeout,
  /// The server expired the session (its ephemeral nodes are gone).
  session_expired,
  /// The session was disconnected for longer than its timeout: it must be
  /// treated as expired (see `session_state::lost`).
  session_lost,
  /// The session was closed (`session::close` or destruction).
  closed,
  /// A bad argument: an invalid path or URL, a negative version, ...
  invalid_argument,
  /// Data larger than ZooKeeper accepts in one node.
  too_large,
  /// A blocking call on the ZooKeeper client's event thread (inside a watch
  /// or state callback), where it would deadlock.
  wrong_thread,
  /// Any other ZooKeeper error (the message names it).
  other,
};

/// Returns the enumerator's name, e.g. "bad_version".
std::string_view to_string(errc code);

/// An error: a code to branch on and a message for humans (naming the path,
/// URL or limit involved).
struct error {
  /// The error's kind; `errc::ok` in a default-constructed error.
  errc code = errc::ok;
  /// A sentence for logs and users; empty when `code` is `ok`.
  std::string message;
};

/// Returns `"<code>: <message>"` (for logs and test failure output).
std::string to_string(const error& e);

/// Either a `T` or an `error`: the return type of synchronous operations in
/// this CAF-free module (in the spirit of `caf::expected<T>`).
template <class T>
class result {
 public:
  /// Holds a value.
  result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  /// Holds an error (its code must not be `errc::ok`).
  result(error e) : error_(std::move(e)) {}  // NOLINT: implicit by design

  /// Returns true if this holds a value.
  bool ok() const { return error_.code == errc::ok; }

  /// Returns `ok()`.
  explicit operator bool() const { return ok(); }

  /// Returns the value (only meaningful when `ok()`).
  const T& value() const& { return value_; }

  /// Returns the value (only meaningful when `ok()`).
  T& value() & { return value_; }

  /// Returns the value by move (only meaningful when `ok()`).
  T&& value() && { return std::move(value_); }

  /// Returns the error (code `ok` when this holds a value).
  const error& err() const { return error_; }

  /// Returns the error code (`errc::ok` when this holds a value).
  errc code() const { return error_.code; }

 private:
  T value_{};
  error error_;
};

/// Success or an error, for operations that return nothing.
template <>
class result<void> {
 public:
  /// Success.
  result() = default;

  /// Holds an error (its code must not be `errc::ok`).
  result(error e) : error_(std::move(e)) {}  // NOLINT: implicit by design

  /// Returns true on success.
  bool ok() const { return error_.code == errc::ok; }

  /// Returns `ok()`.
  explicit operator bool() const { return ok(); }

  /// Returns the error (code `ok` on success).
  const error& err() const { return error_; }

  /// Returns the error code (`errc::ok` on success).
  errc code() const { return error_.code; }

 private:
  error error_;
};

/// Returns an `error` with `code` and `message` (shorthand for returns).
inline error make_error(errc code, std::string message) { return error{code, std::move(message)}; }

}  // namespace agora::zk
