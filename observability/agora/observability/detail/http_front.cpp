#include "agora/observability/detail/http_front.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "agora/observability/detail/request_scanner.hpp"
#include "agora/observability/http_message.hpp"

namespace agora::observability::detail {

namespace {

using clock_type = std::chrono::steady_clock;

// How long a closing connection is drained after the response, so that the
// client's unread request bytes do not make the kernel reset the
// connection (and discard the response) on close; as civetweb's
// `linger_timeout_ms`.
constexpr auto linger = std::chrono::milliseconds(1000);

// Request bytes buffered for the backend before reading from the client
// pauses, once the request is being relayed.
constexpr std::size_t relay_window = 256 * 1024;

// The largest read, and the most bytes read from one socket per wake-up.
constexpr std::size_t read_chunk = 16 * 1024;
constexpr std::size_t read_budget = 256 * 1024;
// Responses are read from civetweb, and kept for the client, in pieces of
// at most this size.
constexpr std::size_t relay_chunk = 256 * 1024;

// After running out of descriptors, accepting pauses this long rather than
// spinning on a listener that stays readable.
constexpr auto accept_pause = std::chrono::milliseconds(100);
// How long a connection may have been receiving its request before a new
// connection at a limit may evict it (`evict_oldest_reading`).
constexpr auto evict_after = std::chrono::milliseconds(1000);

socklen_t length_of(const sockaddr_storage& addr) {
  return addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

std::string address_text(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, buf, sizeof(buf));
  else
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, buf, sizeof(buf));
  return buf;
}

const char* reason_of(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

// Returns a complete JSON error response, formatted as `http_server` formats
// its own (`Content-Length`, `Cache-Control: no-cache`, `Connection: close`).
std::string error_response(int status, const std::string& message) {
  auto r = http_response::error(status, message);
  return "HTTP/1.1 " + std::to_string(status) + " " + reason_of(status) +
         "\r\nContent-Type: " + r.content_type +
         "\r\nContent-Length: " + std::to_string(r.body.size()) +
         "\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n" + r.body;
}

// Closes `fd` with a reset rather than a FIN, so that civetweb's worker
// sees a failed read, not the clean end of a shorter request.
void abort_socket(int fd) {
  ::linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

// Returns `head` without its `Expect` header lines.
std::string without_expect(const std::string& head) {
  std::string result;
  std::size_t start = 0;
  while (start < head.size()) {
    auto end = head.find('\n', start);
    end = end == std::string::npos ? head.size() : end + 1;
    std::string name = head.substr(start, std::min<std::size_t>(7, end - start));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (start == 0 || name != "expect:") result.append(head, start, end - start);
    start = end;
  }
  return result;
}

struct connection {
  enum class phase {
    reading,   // Receiving the request; nothing has reached the backend yet.
    relaying,  // Request bytes go to the backend, its response to the client.
    closing,   // Writing what is left for the client, then draining it.
  };

  connection(int fd, std::string address, const front_limits& limits)
      : client(fd),
        peer(std::move(address)),
        accepted(clock_type::now()),
        scanner(limits.max_head, limits.max_body) {}

  int client;
  int backend = -1;
  std::string peer;
  clock_type::time_point accepted;
  phase state = phase::reading;
  request_scanner scanner;
  // While reading: the request so far. While relaying: bytes for the
  // backend, of which `in_sent` went out.
  std::string in;
  std::size_t in_sent = 0;
  // Bytes for the client, in pieces (a large response is not one buffer
  // that grows and is copied as it grows), of which the first has had
  // `out_sent` bytes sent.
  std::deque<std::string> out;
  std::size_t out_sent = 0;
  // The last time the client took response bytes (or was given new ones).
  clock_type::time_point progress;
  clock_type::time_point linger_until;
  bool continue_sent = false;     // The front answered `100 Continue`.
  bool request_complete = false;  // The backend has (or is sent) the whole request.
  bool backend_connected = false;
  bool backend_shut = false;      // No more request bytes go to the backend.
  bool response_started = false;  // The backend has answered something.
  bool client_eof = false;        // The client shut its side down.
  bool client_shut = false;       // The front shut its side down (closing).
  bool done = false;              // To be closed and removed.
  bool counted = true;            // Still counted in `per_client`.
  // HTTPS: the client's TLS session (null on a plain port), whether its
  // handshake is done, and whether the last TLS call waits to write.
  SSL* ssl = nullptr;
  bool tls_ready = true;
  bool tls_want_write = false;

  bool out_pending() const { return !out.empty(); }

  void queue_out(const char* data, std::size_t size, clock_type::time_point now) {
    if (out.empty()) progress = now;
    // Short answers stay one piece.
    if (!out.empty() && out.back().size() + size <= relay_chunk)
      out.back().append(data, size);
    else
      out.emplace_back(data, size);
  }
  void queue_out(const std::string& data, clock_type::time_point now) {
    queue_out(data.data(), data.size(), now);
  }
};

}  // namespace

struct http_front::impl {
  int listener = -1;
  int wake = -1;
  sockaddr_storage backend{};
  front_limits limits;
  ssl_context tls;
  std::thread thread;
  std::vector<std::unique_ptr<connection>> connections;
  std::map<std::string, int> per_client;
  clock_type::time_point accept_paused_until{};
  // Where responses are read from civetweb (one thread: the front's).
  std::vector<char> relay_buffer = std::vector<char>(relay_chunk);

  ~impl() {
    for (auto& c : connections) release(*c);
    if (listener >= 0) close(listener);
    if (wake >= 0) close(wake);
  }

  void release(connection& c) {
    if (c.ssl != nullptr) SSL_free(c.ssl);
    c.ssl = nullptr;
    if (c.client >= 0) close(c.client);
    if (c.backend >= 0) close(c.backend);
    c.client = c.backend = -1;
    if (!c.counted) return;
    c.counted = false;
    if (auto it = per_client.find(c.peer); it != per_client.end() && --it->second <= 0)
      per_client.erase(it);
  }

  // Makes room for a new connection at a limit: closes the oldest
  // connection (of `peer`, or of anyone when `peer` is empty) that is still
  // receiving its request after `evict_after`. A well-behaved client sends
  // its request at once, so what is evicted is a trickling one, and a slow
  // client never locks out others behind the same address (a NAT, this
  // host). Returns false when there is none: then the new one is refused.
  bool evict_oldest_reading(const std::string& peer, clock_type::time_point now) {
    connection* oldest = nullptr;
    for (auto& c : connections)
      if (!c->done && c->state == connection::phase::reading && !c->request_complete &&
          (peer.empty() || c->peer == peer) && now - c->accepted >= evict_after &&
          (!oldest || c->accepted < oldest->accepted))
        oldest = c.get();
    if (!oldest) return false;
    release(*oldest);
    oldest->done = true;
    return true;
  }

  void run() {
    std::vector<pollfd> fds;
    // For each entry of `fds` after the first two: its connection and
    // whether it is the backend side.
    std::vector<std::pair<connection*, bool>> owners;
    for (;;) {
      auto now = clock_type::now();
      fds.clear();
      owners.clear();
      fds.push_back({wake, POLLIN, 0});
      bool accepting = now >= accept_paused_until;
      fds.push_back({accepting ? listener : -1, POLLIN, 0});
      auto next = clock_type::time_point::max();
      if (!accepting) next = accept_paused_until;
      bool tls_pending = false;
      for (auto& c : connections) {
        short client_events = 0, backend_events = 0;
        wanted_events(*c, client_events, backend_events);
        // Bytes TLS has decrypted but the front not yet read wake no poll.
        if (c->ssl != nullptr && (client_events & POLLIN) && SSL_pending(c->ssl) > 0)
          tls_pending = true;
        fds.push_back({c->client, client_events, 0});
        owners.emplace_back(c.get(), false);
        if (c->backend >= 0) {
          fds.push_back({c->backend, backend_events, 0});
          owners.emplace_back(c.get(), true);
        }
        next = std::min(next, deadline_of(*c));
      }
      int timeout = -1;
      if (next != clock_type::time_point::max()) {
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
        timeout = static_cast<int>(std::clamp<long long>(wait, 0, 60000));
      }
      if (tls_pending) timeout = 0;
      if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
        std::fprintf(stderr, "agora http: poll failed: %s\n", std::strerror(errno));
        return;
      }
      if (fds[0].revents != 0) return;  // Stopping.
      now = clock_type::now();
      for (std::size_t i = 2; i < fds.size(); ++i) {
        auto [c, is_backend] = owners[i - 2];
        if (!is_backend && c->ssl != nullptr && (fds[i].events & POLLIN) && !c->done &&
            SSL_pending(c->ssl) > 0)
          fds[i].revents |= POLLIN;
        if (fds[i].revents == 0 || c->done) continue;
        try {
          if (is_backend)
            on_backend(*c, fds[i].revents, now);
          else
            on_client(*c, fds[i].revents, now);
        } catch (const std::exception&) {
          c->done = true;  // Out of memory and the like: drop this connection only.
        }
      }
      for (auto& c : connections)
        if (!c->done) enforce_deadline(*c, now);
      // Accept after serving, so new connections count against the limits
      // only once closed ones are gone.
      for (auto& c : connections)
        if (c->done) release(*c);
      connections.erase(std::remove_if(connections.begin(), connections.end(),
                                       [](const auto& c) { return c->done; }),
                        connections.end());
      if (fds[1].revents != 0) accept_all(now);
    }
  }

  void wanted_events(const connection& c, short& client, short& backend) const {
    client = 0;
    backend = 0;
    if (c.ssl != nullptr && !c.tls_ready) {
      client = c.tls_want_write ? POLLOUT : POLLIN;
      return;
    }
    // A TLS read that has to write first waits for the socket to take it.
    if (c.ssl != nullptr && c.tls_want_write) client |= POLLOUT;
    switch (c.state) {
      case connection::phase::reading:
        client = POLLIN;
        break;
      case connection::phase::relaying:
        if (!c.client_eof && c.in.size() - c.in_sent < relay_window) client |= POLLIN;
        if (!c.backend_connected || (!c.backend_shut && c.in_sent < c.in.size()))
          backend |= POLLOUT;
        if (c.backend_connected) backend |= POLLIN;
        break;
      case connection::phase::closing:
        if (!c.client_eof) client |= POLLIN;  // Drained and discarded.
        break;
    }
    if (c.out_pending()) client |= POLLOUT;
  }

  clock_type::time_point deadline_of(const connection& c) const {
    auto whole_request = c.accepted + limits.request_timeout;
    if (c.out_pending()) {
      auto writing = c.progress + limits.request_timeout;
      // A client that waits for `100 Continue` is still sending its request.
      return c.request_complete || c.state == connection::phase::closing
                 ? writing
                 : std::min(writing, whole_request);
    }
    switch (c.state) {
      case connection::phase::reading:
        return whole_request;
      case connection::phase::relaying:
        // Once the backend has the whole request, the time is the handler's.
        return c.request_complete || c.response_started ? clock_type::time_point::max()
                                                        : whole_request;
      case connection::phase::closing:
        return c.client_shut ? c.linger_until : clock_type::time_point::max();
    }
    return clock_type::time_point::max();
  }

  void enforce_deadline(connection& c, clock_type::time_point now) {
    if (now < deadline_of(c)) return;
    if (c.ssl != nullptr && !c.tls_ready) {
      c.done = true;  // No TLS yet, so no way to say 408.
      return;
    }
    bool answerable = !c.response_started && c.state != connection::phase::closing;
    if (!answerable || (c.out_pending() && now >= c.progress + limits.request_timeout)) {
      // The client does not take what it is sent, or has its answer.
      c.done = true;
      return;
    }
    answer(c, 408,
           "request not received within " + std::to_string(limits.request_timeout.count()) + " ms",
           now);
  }

  // Replaces whatever the backend would have said with an error response,
  // then closes.
  void answer(connection& c, int status, const std::string& message, clock_type::time_point now) {
    if (c.backend >= 0) {
      abort_socket(c.backend);
      c.backend = -1;
    }
    c.in.clear();
    if (limits.on_refused) limits.on_refused(status);
    c.queue_out(error_response(status, message), now);
    c.state = connection::phase::closing;
  }

  void accept_all(clock_type::time_point now) {
    // A bounded batch per wake-up keeps the loop responsive under a flood.
    for (int batch = 0; batch < 64; ++batch) {
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      int fd =
          accept4(listener, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
          accept_paused_until = now + accept_pause;
        return;
      }
      std::string peer = address_text(addr);
      auto held = std::count_if(connections.begin(), connections.end(),
                                [](const auto& c) { return !c->done; });
      if (held >= limits.max_connections && !evict_oldest_reading("", now)) {
        refuse(fd, 503, "too many connections");
        continue;
      }
      if (per_client[peer] >= limits.max_connections_per_client &&
          !evict_oldest_reading(peer, now)) {
        refuse(fd, 429, "too many connections from " + peer);
        if (per_client[peer] == 0) per_client.erase(peer);
        continue;
      }
      SSL* ssl = nullptr;
      if (tls) {
        ssl = SSL_new(tls.get());
        if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
          if (ssl != nullptr) SSL_free(ssl);
          ERR_clear_error();
          close(fd);
          continue;
        }
        SSL_set_accept_state(ssl);
      }
      int& count = per_client[peer];
      ++count;
      auto& c = connections.emplace_back(std::make_unique<connection>(fd, std::move(peer), limits));
      c->ssl = ssl;
      c->tls_ready = ssl == nullptr;
    }
  }

  // Answers a connection the front will not hold and closes it at once; the
  // short answer fits in the socket buffer, so this never blocks. On an
  // HTTPS port there is no answer before a TLS handshake, which a refused
  // connection is not worth: it is closed.
  void refuse(int fd, int status, const std::string& message) {
    if (limits.on_refused) limits.on_refused(status);
    auto response = error_response(status, message);
    if (!tls) (void)::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    close(fd);
  }

  void on_client(connection& c, short revents, clock_type::time_point now) {
    if (c.ssl != nullptr && !c.tls_ready) {
      handshake(c);
      if (!c.tls_ready || c.done) return;
      revents |= POLLIN;  // The request may have come with the handshake.
    }
    bool readable = (revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    if (c.ssl != nullptr && c.tls_want_write && (revents & POLLOUT)) readable = true;
    if (readable) read_client(c, now);
    if (!c.done && (revents & POLLOUT)) write_client(c, now);
  }

  // Advances the TLS handshake of an HTTPS connection.
  void handshake(connection& c) {
    ERR_clear_error();
    int r = SSL_accept(c.ssl);
    if (r == 1) {
      c.tls_ready = true;
      c.tls_want_write = false;
      return;
    }
    switch (SSL_get_error(c.ssl, r)) {
      case SSL_ERROR_WANT_READ:
        c.tls_want_write = false;
        return;
      case SSL_ERROR_WANT_WRITE:
        c.tls_want_write = true;
        return;
      default:
        break;
    }
    // Plain HTTP on the HTTPS port (OpenSSL recognises a request line):
    // told so in plain HTTP, as it cannot read anything else.
    auto last = ERR_peek_last_error();
    ERR_clear_error();
    if (ERR_GET_LIB(last) == ERR_LIB_SSL && ERR_GET_REASON(last) == SSL_R_HTTP_REQUEST) {
      if (limits.on_refused) limits.on_refused(400);
      auto response = error_response(400, "this port speaks HTTPS: use https://");
      (void)::send(c.client, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      shutdown(c.client, SHUT_WR);
    }
    c.done = true;
  }

  // Reads from the client, through TLS on an HTTPS port; as `recv`, with
  // TLS's "try again" as EAGAIN and its end of the stream as 0.
  ssize_t client_recv(connection& c, char* buf, std::size_t len) {
    if (c.ssl == nullptr) return recv(c.client, buf, len, 0);
    ERR_clear_error();
    int n = SSL_read(c.ssl, buf, static_cast<int>(len));
    return n > 0 ? n : tls_result(c, n);
  }

  // Writes to the client, as `send` (see `client_recv`).
  ssize_t client_send(connection& c, const char* buf, std::size_t len) {
    if (c.ssl == nullptr) return ::send(c.client, buf, len, MSG_NOSIGNAL);
    ERR_clear_error();
    int n = SSL_write(c.ssl, buf, static_cast<int>(std::min<std::size_t>(len, 1 << 30)));
    return n > 0 ? n : tls_result(c, n);
  }

  ssize_t tls_result(connection& c, int ret) {
    switch (SSL_get_error(c.ssl, ret)) {
      case SSL_ERROR_WANT_READ:
        c.tls_want_write = false;
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_WANT_WRITE:
        c.tls_want_write = true;
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      default:
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
  }

  void read_client(connection& c, clock_type::time_point now) {
    char buf[read_chunk];
    // Past the budget, what TLS has already decrypted is read too (at most
    // a record): no poll would report it.
    for (std::size_t total = 0;
         (total < read_budget || (c.ssl != nullptr && SSL_pending(c.ssl) > 0)) && !c.done;) {
      auto n = client_recv(c, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.done = true;
        return;
      }
      if (n == 0) {
        on_client_eof(c, now);
        return;
      }
      total += static_cast<std::size_t>(n);
      switch (c.state) {
        case connection::phase::reading:
          c.in.append(buf, static_cast<std::size_t>(n));
          examine(c, now);
          break;
        case connection::phase::relaying:
          if (!c.backend_shut) c.in.append(buf, static_cast<std::size_t>(n));
          if (c.in.size() - c.in_sent >= relay_window) return;
          break;
        case connection::phase::closing:
          break;  // Discarded.
      }
    }
  }

  void on_client_eof(connection& c, clock_type::time_point now) {
    c.client_eof = true;
    switch (c.state) {
      case connection::phase::reading:
        // Nothing more can come: what arrived is the request, for civetweb
        // to judge as it always did (a client that only connected and
        // closed, e.g. a port probe, needs no answer).
        if (c.in.empty())
          c.done = true;
        else
          forward(c, true, now);
        break;
      case connection::phase::relaying:
        shut_backend_when_sent(c);
        break;
      case connection::phase::closing:
        if (c.client_shut || !c.out_pending()) c.done = true;
        break;
    }
  }

  // Decides, after new request bytes, whether to wait, relay or refuse.
  void examine(connection& c, clock_type::time_point now) {
    switch (c.scanner.scan(c.in)) {
      case request_state::incomplete:
        if (c.scanner.expects_continue() && !c.continue_sent) {
          c.continue_sent = true;
          c.queue_out("HTTP/1.1 100 Continue\r\n\r\n", now);
        }
        break;
      case request_state::complete:
        forward(c, true, now);
        break;
      case request_state::pass_through:
        forward(c, false, now);
        break;
      case request_state::too_large:
        answer(c, 413, "request body larger than " + std::to_string(limits.max_body) + " bytes",
               now);
        break;
    }
  }

  // Starts relaying the request to the backend; `complete` when nothing
  // more is due from the client.
  void forward(connection& c, bool complete, clock_type::time_point now) {
    if (c.continue_sent && c.scanner.head_size() > 0) {
      // The client has its `100 Continue`; civetweb must not send another.
      c.in = without_expect(c.in.substr(0, c.scanner.head_size())) +
             c.in.substr(c.scanner.head_size());
    }
    c.request_complete = complete;
    c.state = connection::phase::relaying;
    c.in_sent = 0;
    c.backend = socket(backend.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.backend < 0 ||
        (connect(c.backend, reinterpret_cast<const sockaddr*>(&backend), length_of(backend)) != 0 &&
         errno != EINPROGRESS)) {
      answer(c, 503, "the server cannot take requests now", now);
    }
  }

  void shut_backend_when_sent(connection& c) {
    if (c.client_eof && c.backend_connected && !c.backend_shut && c.in_sent == c.in.size()) {
      shutdown(c.backend, SHUT_WR);
      c.backend_shut = true;
    }
  }

  void on_backend(connection& c, short revents, clock_type::time_point now) {
    if (!c.backend_connected && (revents & (POLLOUT | POLLERR | POLLHUP))) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.backend, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        answer(c, 503, "the server cannot take requests now", now);
        return;
      }
      c.backend_connected = true;
    }
    if (revents & POLLOUT) write_backend(c);
    if (c.backend >= 0 && (revents & (POLLIN | POLLHUP | POLLERR))) read_backend(c, now);
  }

  void write_backend(connection& c) {
    while (!c.backend_shut && c.in_sent < c.in.size()) {
      auto n = ::send(c.backend, c.in.data() + c.in_sent, c.in.size() - c.in_sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        // civetweb stopped reading (e.g. it answered 413 at once): the rest
        // of the request is dropped, its answer still relayed.
        c.backend_shut = true;
        c.in.clear();
        c.in_sent = 0;
        return;
      }
      c.in_sent += static_cast<std::size_t>(n);
    }
    if (c.in_sent == c.in.size()) {
      c.in.clear();
      c.in_sent = 0;
    }
    shut_backend_when_sent(c);
  }

  void read_backend(connection& c, clock_type::time_point now) {
    char* buf = relay_buffer.data();
    // Read all there is: the response is already in the worker's memory,
    // and taking it at once frees the worker from a slow reader.
    for (;;) {
      auto n = recv(c.backend, buf, relay_buffer.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {
        // The response is complete (civetweb closes after each one), or
        // civetweb dropped the connection without an answer, as it does
        // when a handler fails beyond a 500: the client sees the same.
        close(c.backend);
        c.backend = -1;
        c.in.clear();
        c.in_sent = 0;
        c.state = connection::phase::closing;
        if (!c.out_pending()) start_linger(c, now);
        return;
      }
      c.response_started = true;
      auto size = static_cast<std::size_t>(n);
      // Straight on to a client that takes it; only what its socket does
      // not take now is kept (a 100 MB `/state` is not copied through
      // `out` on its way, nor held whole in the front).
      std::size_t sent = c.out_pending() ? 0 : send_now(c, buf, size);
      if (c.done) return;
      if (sent < size)
        c.queue_out(buf + sent, size - sent, now);
      else
        c.progress = now;
    }
  }

  // Sends what the client's socket takes now; sets `done` on a failure.
  std::size_t send_now(connection& c, const char* data, std::size_t size) {
    std::size_t sent = 0;
    while (sent < size) {
      auto n = client_send(c, data + sent, size - sent);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.done = true;
        break;
      }
      sent += static_cast<std::size_t>(n);
    }
    return sent;
  }

  void write_client(connection& c, clock_type::time_point now) {
    while (c.out_pending()) {
      auto& piece = c.out.front();
      auto n = send_now(c, piece.data() + c.out_sent, piece.size() - c.out_sent);
      if (n > 0) c.progress = now;
      c.out_sent += n;
      if (c.out_sent < piece.size()) return;  // the socket is full, or `done`
      c.out.pop_front();
      c.out_sent = 0;
    }
    if (c.state == connection::phase::closing) start_linger(c, now);
  }

  // Sends the FIN after the last response byte and drains the client for
  // a while; a client that already closed its side is closed at once.
  void start_linger(connection& c, clock_type::time_point now) {
    if (c.client_shut) return;
    if (c.ssl != nullptr) {
      // TLS's own end of the stream first (best effort: not waited for).
      SSL_shutdown(c.ssl);
      ERR_clear_error();
    }
    shutdown(c.client, SHUT_WR);
    c.client_shut = true;
    c.linger_until = now + linger;
    if (c.client_eof) c.done = true;
  }
};

http_front::http_front(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

std::unique_ptr<http_front> http_front::start(int listener, const sockaddr_storage& backend,
                                              const front_limits& limits, ssl_context tls,
                                              std::string& error) {
  auto state = std::make_unique<impl>();
  state->listener = listener;
  state->backend = backend;
  state->limits = limits;
  state->tls = std::move(tls);
  state->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (state->wake < 0) {
    error = std::string("cannot create an eventfd: ") + std::strerror(errno);
    return nullptr;  // `state` closes the listener.
  }
  try {
    auto* raw = state.get();
    state->thread = std::thread([raw] { raw->run(); });
  } catch (const std::exception& e) {
    error = std::string("cannot start the HTTP front thread: ") + e.what();
    return nullptr;
  }
  return std::unique_ptr<http_front>(new http_front(std::move(state)));
}

http_front::~http_front() {
  if (!impl_) return;
  uint64_t one = 1;
  (void)write(impl_->wake, &one, sizeof(one));
  if (impl_->thread.joinable()) impl_->thread.join();
}

int open_listener(const sockaddr_storage& addr, std::string& error) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  // Rebinding right after a restart must not wait for old connections in
  // TIME_WAIT; a port another socket listens on still fails.
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), length_of(addr)) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    error = std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace agora::observability::detail
