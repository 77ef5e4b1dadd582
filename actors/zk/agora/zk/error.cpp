#include "agora/zk/error.hpp"

namespace agora::zk {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::ok:
      return "ok";
    case errc::no_node:
      return "no_node";
    case errc::node_exists:
      return "node_exists";
    case errc::bad_version:
      return "bad_version";
    case errc::not_empty:
      return "not_empty";
    case errc::connection_loss:
      return "connection_loss";
    case errc::timeout:
      return "timeout";
    case errc::session_expired:
      return "session_expired";
    case errc::session_lost:
      return "session_lost";
    case errc::closed:
      return "closed";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::too_large:
      return "too_large";
    case errc::wrong_thread:
      return "wrong_thread";
    case errc::other:
      return "other";
  }
  return "unknown";
}

std::string to_string(const error& e) {
  std::string out(to_string(e.code));
  if (!e.message.empty()) out += ": " + e.message;
  return out;
}

}  // namespace agora::zk
