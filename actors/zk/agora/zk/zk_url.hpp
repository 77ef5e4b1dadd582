#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agora/zk/error.hpp"

namespace agora::zk {

/// One `HOST:PORT` of a ZooKeeper URL.
struct server_address {
  /// A host name, an IPv4 address or a bracketed IPv6 address (`[::1]`).
  std::string host;
  /// The client port, 1-65535.
  uint16_t port = 0;
};

/// A parsed `zk://HOST:PORT[,HOST:PORT...]/PATH` URL: where the ensemble is
/// and under which znode this cluster keeps its state (`<root>/leader`,
/// `<root>/registry`).
///
/// The root is not handed to the ZooKeeper client as a chroot: the recipes
/// prefix it themselves, so it need not exist before they create it.
struct zk_url {
  /// The servers in URL order (at least one).
  std::vector<server_address> servers;
  /// The client's connect string, `"h1:p1,h2:p2"`.
  std::string connect_string;
  /// The root znode, e.g. `"/agora/prod"`: absolute, at least one
  /// component, no trailing `/`, a valid znode path.
  std::string root;

  /// Parses `text`. Returns `errc::invalid_argument` with a message naming
  /// the URL and the problem when: it does not start with `zk://`; the host
  /// list or a host is empty; a port is missing, not a number or out of
  /// range (1-65535); it has credentials (`user@`), which are not
  /// supported; the path is missing, empty (`/`), has a trailing `/`, an
  /// empty, `.` or `..` component, invalid UTF-8 or a character ZooKeeper
  /// forbids; or the path is under ZooKeeper's reserved `/zookeeper`.
  static result<zk_url> parse(std::string_view text);

  /// Returns the URL, `zk://<connect_string><root>`.
  std::string to_string() const;
};

}  // namespace agora::zk
