#include "agora/zk/zk_url.hpp"

#include <cctype>

#include "agora/zk/path.hpp"

namespace agora::zk {

namespace {

constexpr std::string_view scheme = "zk://";

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

bool ipv6_char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
}

// Parses one `HOST:PORT` entry; returns an error message, "" on success.
std::string parse_server(std::string_view entry, server_address& out) {
  std::string_view host;
  std::string_view rest;
  if (!entry.empty() && entry.front() == '[') {
    auto close = entry.find(']');
    if (close == std::string_view::npos)
      return "unterminated '[' in host '" + std::string(entry) + "'";
    host = entry.substr(0, close + 1);
    std::string_view inner = host.substr(1, host.size() - 2);
    if (inner.empty()) return "empty IPv6 address in '" + std::string(entry) + "'";
    for (char c : inner)
      if (!ipv6_char(c))
        return "invalid character '" + std::string(1, c) + "' in IPv6 address '" +
               std::string(host) + "'";
    rest = entry.substr(close + 1);
    if (rest.empty())
      return "missing port for host '" + std::string(host) + "' (expected HOST:PORT)";
    if (rest.front() != ':')
      return "unexpected '" + std::string(rest) + "' after '" + std::string(host) + "'";
    rest.remove_prefix(1);
  } else {
    auto colon = entry.find(':');
    if (colon == std::string_view::npos)
      return "missing port for host '" + std::string(entry) + "' (expected HOST:PORT)";
    host = entry.substr(0, colon);
    rest = entry.substr(colon + 1);
    if (rest.find(':') != std::string_view::npos)
      return "too many ':' in '" + std::string(entry) + "' (write IPv6 addresses as [ADDR]:PORT)";
    if (host.empty()) return "empty host in '" + std::string(entry) + "'";
    for (char c : host)
      if (!host_char(c))
        return "invalid character '" + std::string(1, c) + "' in host '" + std::string(host) + "'";
  }
  if (rest.empty()) return "missing port for host '" + std::string(host) + "'";
  if (rest.size() > 5) return "port '" + std::string(rest) + "' is out of range (1-65535)";
  unsigned long port = 0;
  for (char c : rest) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0)
      return "port '" + std::string(rest) + "' is not a number";
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port == 0 || port > 65535) return "port " + std::string(rest) + " is out of range (1-65535)";
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(port);
  return {};
}

}  // namespace

result<zk_url> zk_url::parse(std::string_view text) {
  auto fail = [&](const std::string& what) {
    return make_error(errc::invalid_argument,
                      "invalid ZooKeeper URL '" + std::string(text) + "': " + what);
  };
  if (text.substr(0, scheme.size()) != scheme)
    return fail("must start with zk:// (zk://HOST:PORT[,HOST:PORT...]/PATH)");
  std::string_view rest = text.substr(scheme.size());
  auto slash = rest.find('/');
  std::string_view hosts = rest.substr(0, slash);
  if (hosts.find('@') != std::string_view::npos)
    return fail("credentials (user@) in zk:// URLs are not supported");
  if (hosts.empty()) return fail("empty host list (expected HOST:PORT after zk://)");
  zk_url url;
  std::size_t start = 0;
  for (;;) {
    auto comma = hosts.find(',', start);
    std::string_view entry =
        hosts.substr(start, comma == std::string_view::npos ? comma : comma - start);
    if (entry.empty()) return fail("empty entry in the host list");
    server_address server;
    if (auto what = parse_server(entry, server); !what.empty()) return fail(what);
    if (!url.connect_string.empty()) url.connect_string += ',';
    url.connect_string += server.host + ":" + std::to_string(server.port);
    url.servers.push_back(std::move(server));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (slash == std::string_view::npos) return fail("missing path (expected /PATH after the hosts)");
  std::string_view path = rest.substr(slash);
  if (path == "/") return fail("empty path (expected /PATH with at least one component)");
  if (auto checked = check_path(path); !checked) return fail(checked.err().message);
  if (path == "/zookeeper" || path.substr(0, 11) == "/zookeeper/")
    return fail("the /zookeeper subtree is reserved by ZooKeeper");
  url.root = std::string(path);
  return url;
}

std::string zk_url::to_string() const { return std::string(scheme) + connect_string + root; }

}  // namespace agora::zk
