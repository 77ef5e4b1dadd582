#include "agora/observability/http_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

#include <civetweb.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "agora/observability/detail/http_front.hpp"

namespace agora::observability {

namespace {

// Set while `mg_start2` runs on this thread: civetweb reports bind failures
// through `log_message` as well as through the error buffer, and we only
// want the latter (returned to the caller).
thread_local bool starting_server = false;

int on_log_message(const mg_connection*, const char* message) {
  if (!starting_server && message != nullptr) std::fprintf(stderr, "agora http: %s\n", message);
  return 1;  // Handled: civetweb prints nothing itself.
}

void init_civetweb_once() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

bool civetweb_has_ipv6() { return mg_check_feature(8) != 0; }

// Returns `host` as a numeric address civetweb accepts in `listening_ports`
// (IPv6 in brackets), resolving names (IPv4 preferred); empty on failure
// with `error` set.
std::string numeric_host(const std::string& host, std::string& error) {
  in6_addr v6;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return host;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (civetweb_has_ipv6()) return "[" + host + "]";
    error = "IPv6 addresses are not supported by this civetweb build";
    return {};
  }
  for (int family : {AF_INET, AF_INET6}) {
    if (family == AF_INET6 && !civetweb_has_ipv6()) break;
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0 || found == nullptr) {
      error = "cannot resolve '" + host + "': " + gai_strerror(rc);
      continue;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    std::string result;
    if (found->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, buf,
                sizeof(buf));
      result = buf;
    } else {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr, buf,
                sizeof(buf));
      result = std::string("[") + buf + "]";
    }
    freeaddrinfo(found);
    return result;
  }
  return {};
}

// Opens and closes a TCP connection to `addr` (ignoring failures).
void poke(const sockaddr_storage& addr) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  socklen_t len = addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  (void)connect(fd, reinterpret_cast<const sockaddr*>(&addr), len);
  close(fd);
}

// Returns the address to connect to for reaching a server bound to
// `numeric` (civetweb syntax, IPv6 in brackets) and `port`; wildcard
// addresses become loopback.
sockaddr_storage connect_address(std::string numeric, uint16_t port) {
  sockaddr_storage result{};
  if (!numeric.empty() && numeric.front() == '[') {
    numeric = numeric.substr(1, numeric.size() - 2);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&result);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, numeric.c_str(), &sin6->sin6_addr) != 1 ||
        IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
      sin6->sin6_addr = in6addr_loopback;
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&result);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    if (inet_pton(AF_INET, numeric.c_str(), &sin->sin_addr) != 1 ||
        sin->sin_addr.s_addr == htonl(INADDR_ANY))
      sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  return result;
}

// Returns the address to bind for a server on `numeric` (civetweb syntax,
// IPv6 in brackets) and `port`, wildcards kept.
sockaddr_storage bind_address(const std::string& numeric, uint16_t port) {
  sockaddr_storage result = connect_address(numeric, port);
  // `connect_address` maps wildcards to loopback; bind the wildcard itself.
  if (numeric == "0.0.0.0") reinterpret_cast<sockaddr_in*>(&result)->sin_addr.s_addr = INADDR_ANY;
  if (numeric == "[::]") reinterpret_cast<sockaddr_in6*>(&result)->sin6_addr = in6addr_any;
  return result;
}

// The buffer size for reading request bodies.
constexpr std::size_t read_chunk = 16 * 1024;

}  // namespace

/// The request series of one server: requests by route, method and status,
/// their duration by route, and the connections the front answered itself.
/// Route labels come from the route table (or "unmatched"), so they stay
/// few whatever paths clients ask for.
class request_metrics {
 public:
  request_metrics()
      : registry_(std::make_shared<prometheus::Registry>()),
        requests_(&prometheus::BuildCounter()
                       .Name("agora_http_requests_total")
                       .Help("HTTP requests answered, by route (handler), method and status code")
                       .Register(*registry_)),
        durations_(&prometheus::BuildHistogram()
                        .Name("agora_http_request_duration_seconds")
                        .Help("Time from a complete request to its answer, by route (handler)")
                        .Register(*registry_)),
        refused_(&prometheus::BuildCounter()
                      .Name("agora_http_refused_total")
                      .Help("Connections the HTTP front answered itself, by status code (408: "
                            "request not complete in time; 413: body too large; 429: too many "
                            "connections from one address; 503: too many connections)")
                      .Register(*registry_)) {}

  void record(const std::string& route, const std::string& method, int status,
              std::chrono::steady_clock::duration elapsed) {
    static const char* const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    std::string m = "other";
    for (const char* k : known)
      if (method == k) m = k;
    requests_->Add({{"handler", route}, {"method", m}, {"code", std::to_string(status)}})
        .Increment();
    static const prometheus::Histogram::BucketBoundaries buckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    durations_->Add({{"handler", route}}, buckets)
        .Observe(std::chrono::duration<double>(elapsed).count());
  }

  void refused(int status) { refused_->Add({{"code", std::to_string(status)}}).Increment(); }

  std::vector<prometheus::MetricFamily> collect() const { return registry_->Collect(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* durations_;
  prometheus::Family<prometheus::Counter>* refused_;
};

struct http_server::impl {
  // Handlers by method, for one path or prefix.
  using by_method = std::map<std::string, handler>;

  mg_context* ctx = nullptr;
  // Accepts the clients and relays complete requests to `ctx`.
  std::unique_ptr<detail::http_front> front;
  std::string host;
  uint16_t bound_port = 0;
  // civetweb's private loopback address, where the front relays requests
  // and the destructor connects to wake civetweb's master thread.
  sockaddr_storage wake_address{};

  request_metrics metrics;

  mutable std::shared_mutex mutex;
  std::map<std::string, by_method> exact;
  // Prefix routes, keyed by the prefix without the trailing `*`.
  std::map<std::string, by_method> prefixes;
  // Runs before every handler (`set_guard`); null: none.
  std::shared_ptr<const guard> request_guard;

  // Returns the handler for `method path`, or an error response (404, 405).
  // For 405, `allow` receives the allowed methods.
  // `route` receives the matched route (the path, or the prefix and `*`),
  // the `handler` label of the request metrics.
  handler lookup(const std::string& method, const std::string& path, http_response& failure,
                 std::string& allow, std::string& route) const {
    std::shared_lock lock(mutex);
    std::vector<std::pair<std::string, const by_method*>> candidates;
    if (auto it = exact.find(path); it != exact.end())
      candidates.emplace_back(it->first, &it->second);
    std::vector<const std::pair<const std::string, by_method>*> matching;
    for (auto& entry : prefixes)
      if (path.compare(0, entry.first.size(), entry.first) == 0) matching.push_back(&entry);
    std::sort(matching.begin(), matching.end(),
              [](auto* a, auto* b) { return a->first.size() > b->first.size(); });
    for (auto* entry : matching) candidates.emplace_back(entry->first + "*", &entry->second);
    if (candidates.empty()) {
      failure = http_response::error(404, "no such path: " + path);
      return {};
    }
    route = candidates.front().first;
    for (auto& [key, methods] : candidates) {
      if (auto it = methods->find(method); it != methods->end()) {
        route = key;
        return it->second;
      }
    }
    // A HEAD request is served by the GET handler (the body is dropped).
    if (method == "HEAD") {
      for (auto& [key, methods] : candidates)
        if (auto it = methods->find("GET"); it != methods->end()) {
          route = key;
          return it->second;
        }
    }
    std::string& allowed = allow;
    std::vector<std::string> names;
    for (auto& candidate : candidates)
      for (auto& m : *candidate.second)
        if (std::find(names.begin(), names.end(), m.first) == names.end()) names.push_back(m.first);
    std::sort(names.begin(), names.end());
    for (auto& name : names) allowed += (allowed.empty() ? "" : ", ") + name;
    failure = http_response::error(
        405, "method " + method + " not allowed for " + path + " (allowed: " + allowed + ")");
    return {};
  }

  // Reads the body into `out`; returns false when it exceeds the limit.
  static bool read_body(mg_connection* conn, const mg_request_info* info, std::string& out) {
    if (info->content_length > static_cast<long long>(max_body_size)) return false;
    if (info->content_length > 0) out.reserve(static_cast<std::size_t>(info->content_length));
    char buf[read_chunk];
    for (;;) {
      int n = mg_read(conn, buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      if (out.size() > max_body_size) return false;
    }
    return true;
  }

  static void send(mg_connection* conn, const std::string& method, const http_response& r,
                   const std::string& allow) {
    const char* reason = mg_get_response_code_text(conn, r.status);
    std::string allow_line = allow.empty() ? "" : "Allow: " + allow + "\r\n";
    if (!r.location.empty() && r.location.find_first_of("\r\n") == std::string::npos)
      allow_line += "Location: " + r.location + "\r\n";
    // A handler's header must not inject further header lines.
    for (const auto& [name, value] : r.headers)
      if (!name.empty() && name.find_first_of("\r\n: ") == std::string::npos &&
          value.find_first_of("\r\n") == std::string::npos)
        allow_line += name + ": " + value + "\r\n";
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: %s\r\n"
              "Content-Length: %zu\r\n"
              "%s"
              "Cache-Control: no-cache\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "Connection: close\r\n\r\n",
              r.status, reason != nullptr ? reason : "", r.content_type.c_str(), r.payload().size(),
              allow_line.c_str());
    const std::string& body = r.payload();
    if (method != "HEAD" && !body.empty()) mg_write(conn, body.data(), body.size());
  }

  /// Returns why a request must be refused before routing ("" when fine):
  /// a NUL in its path (`/health%00x` must not be served as `/health`), or
  /// an ambiguous body length (two Content-Length headers, or one beside
  /// Transfer-Encoding: what a proxy in front and this server could read
  /// differently, smuggling a request).
  static std::string malformed(const mg_request_info* info, const std::string& raw) {
    for (size_t i = 0; i + 2 < raw.size(); ++i)
      if (raw[i] == '%' && raw[i + 1] == '0' && raw[i + 2] == '0')
        return "the request path contains a NUL (%00)";
    int lengths = 0;
    bool chunked = false;
    for (int i = 0; i < info->num_headers; ++i) {
      std::string name = info->http_headers[i].name != nullptr ? info->http_headers[i].name : "";
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      lengths += name == "content-length";
      chunked = chunked || name == "transfer-encoding";
    }
    if (lengths > 1) return "more than one Content-Length header";
    if (lengths == 1 && chunked) return "both Content-Length and Transfer-Encoding";
    return {};
  }

  int serve(mg_connection* conn) {
    auto started = std::chrono::steady_clock::now();
    std::string route = "unmatched";
    std::string method;
    int status = serve(conn, route, method);
    metrics.record(route, method, status, std::chrono::steady_clock::now() - started);
    return status;
  }

  int serve(mg_connection* conn, std::string& route, std::string& method) {
    const mg_request_info* info = mg_get_request_info(conn);
    http_request req;
    req.method = info->request_method != nullptr ? info->request_method : "";
    const char* uri = info->local_uri != nullptr ? info->local_uri : info->request_uri;
    std::string raw_path = uri != nullptr ? uri : "";
    req.path = url_decode(raw_path, false);
    if (info->query_string != nullptr) req.query = info->query_string;
    for (int i = 0; i < info->num_headers; ++i) {
      if (info->http_headers[i].name == nullptr) continue;
      std::string name = info->http_headers[i].name;
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      req.headers[name] = info->http_headers[i].value != nullptr ? info->http_headers[i].value : "";
    }
    method = req.method;

    http_response response;
    std::string allow;
    if (auto bad = malformed(info, raw_path); !bad.empty()) {
      response = http_response::error(400, bad);
      mg_disable_keep_alive(conn);
      send(conn, req.method, response, allow);
      return response.status;
    }
    handler h = lookup(req.method, req.path, response, allow, route);
    if (h) {
      if (!read_body(conn, info, req.body)) {
        response = http_response::error(
            413, "request body larger than " + std::to_string(max_body_size) + " bytes");
        // Do not let civetweb read (and discard) the rest of a huge body.
        mg_disable_keep_alive(conn);
      } else {
        try {
          std::shared_ptr<const guard> g;
          {
            std::shared_lock lock(mutex);
            g = request_guard;
          }
          std::optional<http_response> refused;
          if (g) refused = (*g)(req, route);
          response = refused ? std::move(*refused) : h(req);
          // A handler's content type must not inject header lines.
          response.content_type.erase(
              std::remove_if(response.content_type.begin(), response.content_type.end(),
                             [](char c) { return c == '\r' || c == '\n'; }),
              response.content_type.end());
          if (response.status < 100 || response.status > 999) {
            response = http_response::error(
                500, "handler returned invalid status " + std::to_string(response.status));
          }
        } catch (const std::exception& e) {
          response = http_response::error(500, std::string("internal error: ") + e.what());
        } catch (...) {
          response = http_response::error(500, "internal error: unknown exception");
        }
      }
    }
    send(conn, req.method, response, allow);
    return response.status;
  }
};

namespace {

int on_begin_request(mg_connection* conn) {
  auto* self = static_cast<http_server::impl*>(mg_get_user_data(mg_get_context(conn)));
  try {
    return self->serve(conn);
  } catch (...) {
    // Allocation failures and the like: the connection is closed without a
    // response rather than taking the daemon down.
    return 500;
  }
}

}  // namespace

std::unique_ptr<http_server> http_server::start(const std::string& host, uint16_t port,
                                                std::string& error, int threads) {
  options opts;
  opts.threads = threads;
  return start(host, port, error, opts);
}

std::unique_ptr<http_server> http_server::start(const std::string& host, uint16_t port,
                                                std::string& error, const options& opts) {
  init_civetweb_once();
  auto state = std::make_unique<impl>();
  std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string resolved = numeric_host(host, error);
  if (resolved.empty()) {
    error = "cannot listen on " + address + ": " + error;
    return nullptr;
  }
  state->host = host;
  std::string reason;
  detail::ssl_context tls;
  if (!opts.tls_cert_file.empty() || !opts.tls_key_file.empty()) {
    tls = detail::make_server_context(opts.tls_cert_file, opts.tls_key_file, reason);
    if (!tls) {
      error = "cannot serve HTTPS on " + address + ": " + reason;
      return nullptr;
    }
  }
  int listener = detail::open_listener(bind_address(resolved, port), reason);
  if (listener < 0) {
    error = "cannot listen on " + address + ": " + reason;
    return nullptr;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  state->bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  // civetweb listens privately on loopback and sees only the front's
  // connections, each with a request that has fully arrived.
  std::string thread_count = std::to_string(std::max(1, opts.threads));
  const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", thread_count.c_str(),
                           "enable_keep_alive", "no", "request_timeout_ms", "30000",
                           "linger_timeout_ms", "1000",
                           // Paths reach `serve` still encoded: decoded here,
                           // so a %00 cannot cut one short unnoticed.
                           "decode_url", "no", nullptr};
  mg_callbacks callbacks{};
  callbacks.begin_request = on_begin_request;
  callbacks.log_message = on_log_message;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = state.get();
  init.configuration_options = options;
  char text[256] = {};
  unsigned code = 0;
  mg_error_data failure{};
  failure.code = &code;
  failure.text = text;
  failure.text_buffer_size = sizeof(text);
  starting_server = true;
  state->ctx = mg_start2(&init, &failure);
  starting_server = false;
  if (state->ctx == nullptr) {
    close(listener);
    error = "cannot listen on " + address + ": " +
            (text[0] != '\0' ? text : "civetweb failed to start");
    return nullptr;
  }
  mg_server_port ports[4] = {};
  int n = mg_get_server_ports(state->ctx, 4, ports);
  if (n < 1 || ports[0].port <= 0) {
    close(listener);
    mg_stop(state->ctx);
    error = "cannot listen on " + address + ": cannot determine civetweb's port";
    return nullptr;
  }
  state->wake_address = connect_address("127.0.0.1", static_cast<uint16_t>(ports[0].port));
  detail::front_limits limits;
  limits.request_timeout = opts.request_timeout;
  limits.max_connections = std::max(1, opts.max_connections);
  limits.max_connections_per_client = std::max(1, opts.max_connections_per_client);
  limits.max_body = max_body_size;
  limits.on_refused = [metrics = &state->metrics](int status) { metrics->refused(status); };
  state->front =
      detail::http_front::start(listener, state->wake_address, limits, std::move(tls), reason);
  if (!state->front) {
    mg_stop(state->ctx);
    error = "cannot listen on " + address + ": " + reason;
    return nullptr;
  }
  return std::unique_ptr<http_server>(new http_server(std::move(state)));
}

http_server::http_server(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

http_server::~http_server() {
  if (!impl_ || impl_->ctx == nullptr) return;
  // No new requests reach civetweb once the front is gone; clients still
  // waiting for a response are disconnected.
  impl_->front.reset();
  // civetweb's master thread notices the stop flag only when its `poll` on
  // the listening socket returns, which otherwise takes up to 2 s. Wake it
  // with connections until `mg_stop` has returned.
  std::mutex m;
  std::condition_variable cv;
  bool stopped = false;
  std::thread waker([&] {
    std::unique_lock lock(m);
    while (!stopped) {
      lock.unlock();
      poke(impl_->wake_address);
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return stopped; });
    }
  });
  mg_stop(impl_->ctx);
  {
    std::lock_guard lock(m);
    stopped = true;
  }
  cv.notify_all();
  waker.join();
}

std::vector<prometheus::MetricFamily> http_server::collect_metrics() const {
  return impl_->metrics.collect();
}

void http_server::route(const std::string& method, const std::string& path, handler h) {
  std::unique_lock lock(impl_->mutex);
  if (!path.empty() && path.back() == '*')
    impl_->prefixes[path.substr(0, path.size() - 1)][method] = std::move(h);
  else
    impl_->exact[path][method] = std::move(h);
}

void http_server::set_guard(guard g) {
  std::unique_lock lock(impl_->mutex);
  impl_->request_guard = g ? std::make_shared<const guard>(std::move(g)) : nullptr;
}

uint16_t http_server::port() const { return impl_->bound_port; }

std::string http_server::address() const {
  bool v6 = impl_->host.find(':') != std::string::npos;
  return (v6 ? "[" + impl_->host + "]" : impl_->host) + ":" + std::to_string(impl_->bound_port);
}

}  // namespace agora::observability
