#include "agora/protocol/transport.hpp"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/err.h>

#include <caf/atom.hpp>
#include <caf/function_view.hpp>
#include <caf/io/basp/header.hpp>
#include <caf/io/basp/message_type.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/scribe_impl.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/session.hpp>

namespace agora::protocol {
namespace {

namespace net = caf::io::network;

/// Why a TLS handshake with a peer this process connected to failed.
struct tls_failure {
  std::string reason;
  bool refused = false;  ///< OpenSSL named a reason (see `connect_failure`).
};

/// What the transport's connections share: the limits, the log prefix,
/// the counts of refused connections and, with TLS, why recent handshakes
/// with the peers this process connected to failed.
struct transport_shared {
  transport_limits limits;
  std::string name;
  bool tls = false;
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> tls_failures{0};

  /// Records (or, with an empty reason, forgets) the failure of the latest
  /// handshake with `target` ("host:port" as asked to connect).
  void note(const std::string& target, tls_failure f) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (f.reason.empty()) {
      failures_.erase(target);
      return;
    }
    // A process connects to a handful of peers; the bound only keeps a
    // process that tries many from growing this.
    if (failures_.size() >= 256) failures_.clear();
    failures_[target] = std::move(f);
  }

  tls_failure failure_of(const std::string& target) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = failures_.find(target);
    return i == failures_.end() ? tls_failure{} : i->second;
  }

 private:
  std::mutex mtx_;
  std::map<std::string, tls_failure> failures_;
};

/// Reads what CAF 0.17's binary serializer writes, as far as
/// `refused_content` needs: big-endian integers, varbyte lengths, strings.
class payload_reader {
 public:
  payload_reader(const unsigned char* data, std::size_t size) : at_(data), end_(data + size) {}

  bool skip(std::size_t n) {
    if (static_cast<std::size_t>(end_ - at_) < n) return false;
    at_ += n;
    return true;
  }
  bool u64(std::uint64_t& x) {
    if (end_ - at_ < 8) return false;
    x = 0;
    for (int i = 0; i < 8; ++i) x = (x << 8) | *at_++;
    return true;
  }
  bool varbyte(std::size_t& x) {
    x = 0;
    for (int shift = 0; shift < 35 && at_ < end_; shift += 7) {
      auto b = *at_++;
      x |= static_cast<std::size_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  /// A string, viewed in place (this runs on every message received).
  bool str(std::string_view& x) {
    std::size_t n = 0;
    if (!varbyte(n) || static_cast<std::size_t>(end_ - at_) < n) return false;
    x = std::string_view{reinterpret_cast<const char*>(at_), n};
    at_ += n;
    return true;
  }

 private:
  const unsigned char* at_;
  const unsigned char* end_;
};

/// Returns why the payload of a direct message must not reach an actor, or
/// null. The payload is the forwarding stages (actor pointers: an actor id
/// and a node id each), then the message: its type names joined into one
/// string, then its values.
///
/// Refused are the messages that only CAF's runtime makes, on the node of
/// the receiver: exit and down messages (a remote peer's `send_exit` with
/// reason `kill` ends any actor it can address, trapped or not; a forged
/// `down_msg` would tell the master that an agent's connection dropped),
/// timeouts and stream control, and the link requests through which a
/// peer's own dying actor would send such an exit. CAF delivers exits and
/// downs of remote actors through their local proxies, never as message
/// content, so nothing legitimate is lost.
const char* refused_content(const unsigned char* data, std::size_t size) {
  constexpr auto no_node = static_cast<std::uint64_t>(caf::atom(""));
  constexpr auto default_node = static_cast<std::uint64_t>(caf::atom("default"));
  payload_reader in{data, size};
  std::size_t stages = 0;
  if (!in.varbyte(stages)) return nullptr;  // CAF refuses it as well
  for (std::size_t i = 0; i < stages; ++i) {
    std::uint64_t actor = 0;
    std::uint64_t node_kind = 0;
    if (!in.u64(actor) || !in.u64(node_kind)) return nullptr;
    if (node_kind == default_node) {
      if (!in.skip(4 + 20)) return nullptr;  // process id, host hash
    } else if (node_kind != no_node) {
      // URI node ids: CAF 0.17 reads them, Agora's processes never make
      // them, and past one the message's type cannot be found.
      return "a node id of a kind Agora does not use";
    }
  }
  std::string_view types;
  if (!in.skip(2) || !in.str(types)) return nullptr;
  static const char* const runtime_only[] = {"@<>+@exit",
                                             "@<>+@down",
                                             "@<>+@group_down",
                                             "@<>+@timeout",
                                             "@<>+@open_stream_msg",
                                             "@<>+@upstream_msg",
                                             "@<>+@downstream_msg"};
  for (const char* t : runtime_only)
    if (types == t) return "an exit, down, timeout or stream message, which only CAF itself makes";
  if (types == "@<>+@atom+@strong_actor_ptr") {
    std::uint64_t verb = 0;
    if (in.u64(verb) && (verb == static_cast<std::uint64_t>(caf::atom("link")) ||
                         verb == static_cast<std::uint64_t>(caf::atom("unlink"))))
      return "a link request";
  }
  return nullptr;
}

/// Adds to any scribe `Base` (CAF's connection object) the size guard: it
/// never sizes a read buffer to an announced length. An `exactly(n)` read
/// above the chunk size is read as a sequence of chunk-sized reads into a
/// buffer that grows with the bytes that arrive, then handed to the broker
/// in one piece; a read above the limit closes the connection instead.
///
/// The broker calls `configure_read` from inside `consume` (the BASP broker
/// asks for the payload while handling the header), so a refusal found
/// there is acted on after `consume` returns: the scribe reports a read
/// failure, which detaches it from the broker with the usual
/// connection-closed message, and the stream stops reading.
template <class Base>
class guarded final : public Base {
 public:
  template <class... Ts>
  explicit guarded(std::shared_ptr<transport_shared> shared, Ts&&... xs)
      : Base(std::forward<Ts>(xs)...), shared_(std::move(shared)) {}

  void configure_read(caf::io::receive_policy::config cfg) override {
    const auto& lim = shared_->limits;
    // The first two reads are the handshake's header and payload.
    auto limit = deliveries_ < 2 ? lim.handshake_bytes : lim.message_bytes;
    if (cfg.second > limit) {
      refused_size_ = cfg.second;
      refused_limit_ = limit;
      return;  // the stream keeps its previous, small configuration
    }
    if (cfg.first != caf::io::receive_policy_flag::exactly || cfg.second <= lim.read_chunk_bytes) {
      wanted_ = 0;
      Base::configure_read(cfg);
      return;
    }
    wanted_ = cfg.second;
    assembly_.clear();
    Base::configure_read(caf::io::receive_policy::exactly(lim.read_chunk_bytes));
  }

  bool consume(caf::execution_unit* ctx, const void* buf, std::size_t n) override {
    if (wanted_ == 0) return deliver(ctx, buf, n);
    auto first = static_cast<const char*>(buf);
    assembly_.insert(assembly_.end(), first, first + n);
    if (assembly_.size() < wanted_) {
      auto next = std::min(shared_->limits.read_chunk_bytes, wanted_ - assembly_.size());
      Base::configure_read(caf::io::receive_policy::exactly(next));
      return true;
    }
    wanted_ = 0;
    // `scribe::consume` hands `rd_buf()` to the broker, so it must name the
    // assembled payload for the length of the call.
    delivering_assembly_ = true;
    auto ok = deliver(ctx, assembly_.data(), assembly_.size());
    delivering_assembly_ = false;
    std::vector<char>().swap(assembly_);
    return ok;
  }

  std::vector<char>& rd_buf() override { return delivering_assembly_ ? assembly_ : Base::rd_buf(); }

 private:
  /// Returns why the `n` bytes at `buf`, the next BASP header or payload,
  /// must not be handed to CAF (null if they may). BASP alternates a
  /// fixed-size header and the payload that the header announces (none
  /// when its length is 0), so the scribe can tell which delivery is which.
  const char* refusal(const void* buf, std::size_t n) {
    namespace basp = caf::io::basp;
    auto bytes = static_cast<const unsigned char*>(buf);
    if (!expect_header_) {
      expect_header_ = true;
      return payload_op_ == basp::message_type::direct_message ? refused_content(bytes, n)
                                                               : nullptr;
    }
    if (n != basp::header_size) return nullptr;
    // The header starts with the operation; its payload length is the
    // big-endian 32-bit word at offset 4.
    std::uint32_t payload = (std::uint32_t{bytes[4]} << 24) | (std::uint32_t{bytes[5]} << 16) |
                            (std::uint32_t{bytes[6]} << 8) | std::uint32_t{bytes[7]};
    expect_header_ = payload == 0;
    payload_op_ = static_cast<basp::message_type>(bytes[0]);
    // A routed message names its source node in its payload, and the
    // receiver delivers it as sent by that node's actor: a peer could speak
    // as the master to an agent, or as an agent to the master. Agora's
    // processes connect directly to every peer they talk to.
    if (payload_op_ == basp::message_type::routed_message)
      return "a message routed from another node, which Agora never sends";
    return nullptr;
  }

  bool deliver(caf::execution_unit* ctx, const void* buf, std::size_t n) {
    ++deliveries_;
    if (const char* why = refusal(buf, n)) {
      shared_->refused.fetch_add(1, std::memory_order_relaxed);
      std::fprintf(stderr, "%s: closing the actor connection from %s:%u: it sent %s\n",
                   shared_->name.c_str(), this->addr().c_str(), static_cast<unsigned>(this->port()),
                   why);
      this->io_failure(ctx, net::operation::read);
      return false;
    }
    auto ok = Base::consume(ctx, buf, n);
    if (refused_size_ == 0) return ok;
    shared_->refused.fetch_add(1, std::memory_order_relaxed);
    std::fprintf(stderr,
                 "%s: closing the actor connection from %s:%u: it announced a message of %zu "
                 "bytes, more than the limit of %zu%s\n",
                 shared_->name.c_str(), this->addr().c_str(), static_cast<unsigned>(this->port()),
                 refused_size_, refused_limit_, deliveries_ <= 2 ? " before its handshake" : "");
    refused_size_ = 0;
    this->io_failure(ctx, net::operation::read);
    return false;
  }

  std::shared_ptr<transport_shared> shared_;
  std::size_t deliveries_ = 0;
  bool expect_header_ = true;
  caf::io::basp::message_type payload_op_ = caf::io::basp::message_type::heartbeat;
  std::size_t wanted_ = 0;
  std::vector<char> assembly_;
  bool delivering_assembly_ = false;
  std::size_t refused_size_ = 0;
  std::size_t refused_limit_ = 0;
};

class tls_scribe;

/// Closes the TLS connections whose first message has not arrived by their
/// deadline: one thread, sleeping until the oldest deadline, that hands
/// each due connection to the event loop. Every deadline is the same time
/// after its connection opened, so a queue is in deadline order.
///
/// It holds a connection (a reference, which keeps its socket open) only
/// until the handshake ends one way or the other: the connection takes
/// itself back then (`take`).
class handshake_timer {
 public:
  using clock = std::chrono::steady_clock;

  explicit handshake_timer(net::default_multiplexer& mx) : mx_(mx) {}
  ~handshake_timer() { stop(); }

  /// Watches `s` until `at`; returns the id to `take` it back with.
  std::uint64_t add(clock::time_point at, caf::intrusive_ptr<tls_scribe> s);

  /// Stops watching connection `id`; returns the reference held (null if
  /// none): callers keep it until they are done with the connection.
  caf::intrusive_ptr<tls_scribe> take(std::uint64_t id);

  /// Stops the thread and drops the pending deadlines; before the event
  /// loop stops, as nothing may be handed to it afterwards.
  void stop();

 private:
  void run();

  net::default_multiplexer& mx_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::pair<clock::time_point, std::uint64_t>> queue_;
  std::map<std::uint64_t, caf::intrusive_ptr<tls_scribe>> watched_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

/// A TLS connection: CAF's OpenSSL session (its context, certificate
/// checks and non-blocking handshake) on a stream of the default backend,
/// as CAF's own OpenSSL scribe does, plus what Agora needs around it: the
/// reason of a failed handshake (logged when a peer is refused, kept for
/// `explain_connect_error` when this process connected), and a deadline
/// for the first message (`transport_limits::handshake_timeout`).
class tls_scribe : public caf::io::scribe {
 public:
  tls_scribe(net::default_multiplexer& mx, net::native_socket fd, caf::openssl::session_ptr session,
             std::shared_ptr<transport_shared> shared, handshake_timer* timer, std::string target)
      : caf::io::scribe(net::conn_hdl_from_socket(fd)),
        tls_shared_(std::move(shared)),
        timer_(timer),
        target_(std::move(target)),
        stream_(mx, fd, this, std::move(session)) {}

  /// Set once, right after construction (before the connection starts).
  void watched_as(std::uint64_t id) { deadline_id_ = id; }

  void configure_read(caf::io::receive_policy::config cfg) override {
    stream_.configure_read(cfg);
    if (!launched_) {
      launched_ = true;
      // Reading only: the handshake goes on in reads (see `flush`).
      stream_.start(this);
    }
  }

  void ack_writes(bool enable) override { stream_.ack_writes(enable); }
  std::vector<char>& wr_buf() override { return stream_.wr_buf(); }
  std::vector<char>& rd_buf() override { return stream_.rd_buf(); }
  /// Sends what the broker wrote; before the TLS handshake is done, only
  /// once it is. CAF's OpenSSL scribe writes at once, and while the session
  /// waits for the peer a write reports success with nothing written: the
  /// socket stays writable, and the event loop spins a core until the peer
  /// answers (or forever, for a peer that stays silent). The handshake's
  /// own messages need no write events: OpenSSL writes them to the socket
  /// from inside the read that advances the handshake.
  void flush() override {
    if (!established_) {
      flush_pending_ = true;
      return;
    }
    stream_.flush(this);
  }
  void add_to_loop() override { stream_.activate(this); }
  void remove_from_loop() override { stream_.passivate(); }

  void graceful_shutdown() override {
    auto keep = timer_->take(deadline_id_);
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }

  std::string addr() const override {
    auto x = net::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string{};
  }

  uint16_t port() const override {
    auto x = net::remote_port_of_fd(stream_.fd());
    return x ? *x : 0;
  }

  bool consume(caf::execution_unit* ctx, const void* buf, std::size_t n) override {
    caf::intrusive_ptr<tls_scribe> keep;
    if (!handshake_done_) {
      handshake_done_ = true;
      keep = timer_->take(deadline_id_);
      if (!target_.empty()) tls_shared_->note(target_, {});
    }
    return caf::io::scribe::consume(ctx, buf, n);
  }

  /// Runs in the event loop once `handshake_timeout` has passed: closes the
  /// connection unless its first message has arrived.
  void check_deadline() {
    if (handshake_done_ || failed_ || detached()) return;
    auto ms = tls_shared_->limits.handshake_timeout.count();
    fail("no TLS handshake within " + std::to_string(ms) + " ms (a peer without TLS?)", false);
    io_failure(&stream_.backend(), net::operation::read);
    stream_.passivate();
  }

 private:
  /// CAF's stream policy over the OpenSSL session, noting why a read or a
  /// write failed while the handshake is not done.
  struct policy {
    policy(tls_scribe* owner, caf::openssl::session_ptr s)
        : owner_(owner), session_(std::move(s)) {}

    net::rw_state read_some(std::size_t& result, net::native_socket fd, void* buf,
                            std::size_t len) {
      if (!owner_->established_) {
        // A read of nothing advances the handshake: `success` while it
        // waits for the peer, `indeterminate` once it is done.
        std::size_t none = 0;
        auto state = session_->read_some(none, fd, nullptr, 0);
        if (state != net::rw_state::indeterminate) {
          result = 0;
          return owner_->checked(state);
        }
        owner_->on_established();
      }
      return owner_->checked(session_->read_some(result, fd, buf, len));
    }

    net::rw_state write_some(std::size_t& result, net::native_socket fd, const void* buf,
                             std::size_t len) {
      return owner_->checked(session_->write_some(result, fd, buf, len));
    }

    bool must_read_more(net::native_socket fd, std::size_t threshold) {
      return session_->must_read_more(fd, threshold);
    }

   private:
    tls_scribe* owner_;
    caf::openssl::session_ptr session_;
  };

  void on_established() {
    established_ = true;
    if (flush_pending_) {
      flush_pending_ = false;
      stream_.flush(this);
    }
  }

  net::rw_state checked(net::rw_state state) {
    if (state == net::rw_state::failure && !handshake_done_ && !failed_) {
      // Released when this returns (the stream holds this connection too).
      auto keep = timer_->take(deadline_id_);
      // OpenSSL's error queue is per thread, and this is the event loop's:
      // the reason left there is this connection's.
      auto reason = openssl_reason();
      bool named = !reason.empty();
      if (!named) reason = "the connection closed during the TLS handshake";
      fail(reason, named);
    } else if (state == net::rw_state::failure) {
      ERR_clear_error();
    }
    return state;
  }

  void fail(const std::string& reason, bool refused) {
    failed_ = true;
    tls_shared_->tls_failures.fetch_add(1, std::memory_order_relaxed);
    if (!target_.empty()) {
      // This process connected: the caller reports it (`explain_connect_error`).
      tls_shared_->note(target_, {reason, refused});
      return;
    }
    std::fprintf(stderr, "%s: refused the actor connection from %s:%u: %s\n",
                 tls_shared_->name.c_str(), addr().c_str(), static_cast<unsigned>(port()),
                 reason.c_str());
  }

  std::shared_ptr<transport_shared> tls_shared_;
  handshake_timer* timer_;
  std::uint64_t deadline_id_ = 0;
  std::string target_;  ///< "host:port" if this process connected, else "".
  bool launched_ = false;
  bool established_ = false;     ///< The TLS handshake is done.
  bool flush_pending_ = false;   ///< The broker flushed before that.
  bool handshake_done_ = false;  ///< The first message arrived.
  bool failed_ = false;
  net::stream_impl<policy> stream_;
};

using guarded_scribe = guarded<net::scribe_impl>;
using guarded_tls_scribe = guarded<tls_scribe>;

std::uint64_t handshake_timer::add(clock::time_point at, caf::intrusive_ptr<tls_scribe> s) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (stopping_) return 0;
  auto id = next_id_++;
  watched_.emplace(id, std::move(s));
  queue_.emplace_back(at, id);
  if (!thread_.joinable()) thread_ = std::thread{[this] { run(); }};
  cv_.notify_one();
  return id;
}

caf::intrusive_ptr<tls_scribe> handshake_timer::take(std::uint64_t id) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = watched_.find(id);
  if (i == watched_.end()) return nullptr;
  auto s = std::move(i->second);
  watched_.erase(i);
  return s;
}

void handshake_timer::stop() {
  std::map<std::uint64_t, caf::intrusive_ptr<tls_scribe>> dropped;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    queue_.clear();
    dropped.swap(watched_);
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void handshake_timer::run() {
  std::unique_lock<std::mutex> lock{mtx_};
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    if (auto due = queue_.front().first; due > clock::now()) {
      cv_.wait_until(lock, due);
      continue;
    }
    auto id = queue_.front().second;
    queue_.pop_front();
    auto i = watched_.find(id);
    if (i == watched_.end()) continue;  // its handshake ended in time
    auto s = std::move(i->second);
    watched_.erase(i);
    mx_.post([s] { s->check_deadline(); });
  }
}

/// CAF's default network backend, except that every connection it makes
/// (accepted by a doorman or opened by `new_tcp_scribe`, both of which go
/// through `new_scribe`) is a `guarded_scribe`; with TLS, the TLS
/// middleman actor's connections are `guarded_tls_scribe`s made here, and
/// plain ones are refused.
class guarded_multiplexer final : public net::default_multiplexer {
 public:
  guarded_multiplexer(caf::actor_system* sys, std::shared_ptr<transport_shared> shared)
      : net::default_multiplexer(sys), sys_(*sys), shared_(std::move(shared)), timer_(*this) {}

  caf::io::scribe_ptr new_scribe(net::native_socket fd) override {
    return caf::make_counted<guarded_scribe>(shared_, *this, fd);
  }

  // With TLS, a plain connection or listener (CAF's middleman actor,
  // `middleman().publish`, `middleman().remote_actor`) would be a way
  // around it: refused, so that the process speaks TLS on all or none.
  caf::expected<caf::io::scribe_ptr> new_tcp_scribe(const std::string& host,
                                                    uint16_t port) override {
    if (shared_->tls)
      return caf::make_error(caf::sec::cannot_connect_to_node,
                             "this process speaks TLS: connect through protocol::connector");
    return net::default_multiplexer::new_tcp_scribe(host, port);
  }

  caf::expected<caf::io::doorman_ptr> new_tcp_doorman(uint16_t port, const char* in,
                                                      bool reuse_addr) override {
    if (shared_->tls)
      return caf::make_error(caf::sec::cannot_open_port,
                             "this process speaks TLS: publish through protocol::publish");
    return net::default_multiplexer::new_tcp_doorman(port, in, reuse_addr);
  }

  /// Starts TLS on `fd` (accepted by a doorman, or connected to `target`)
  /// and returns its scribe; on failure closes `fd` and returns null with
  /// `why` set. Runs in the event loop (accepted) or in the TLS middleman
  /// actor (connected).
  caf::io::scribe_ptr new_tls_scribe(net::native_socket fd, const std::string& target,
                                     std::string& why) {
    bool accepted = target.empty();
    caf::openssl::session_ptr session;
    ERR_clear_error();
    try {
      // Loads the files (CAF's OpenSSL module builds a context for each
      // connection) and starts the handshake; it throws if a file has
      // become unreadable since the flags were checked.
      session = caf::openssl::make_session(sys_, fd, accepted);
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (!session) {
      if (why.empty()) why = openssl_reason();
      if (why.empty()) why = "the connection closed during the TLS handshake";
      shared_->tls_failures.fetch_add(1, std::memory_order_relaxed);
      if (accepted) {
        auto host = net::remote_addr_of_fd(fd);
        auto port = net::remote_port_of_fd(fd);
        std::fprintf(stderr, "%s: refused the actor connection from %s:%u: %s\n",
                     shared_->name.c_str(), host ? host->c_str() : "?",
                     static_cast<unsigned>(port ? *port : 0), why.c_str());
      } else {
        shared_->note(target, {why, true});
      }
      ::close(fd);
      return nullptr;
    }
    auto s = caf::make_counted<guarded_tls_scribe>(shared_, *this, fd, std::move(session), shared_,
                                                   &timer_, target);
    s->watched_as(timer_.add(handshake_timer::clock::now() + shared_->limits.handshake_timeout, s));
    return s;
  }

  transport_shared& shared() { return *shared_; }

  void stop_timer() { timer_.stop(); }

 private:
  caf::actor_system& sys_;
  std::shared_ptr<transport_shared> shared_;
  handshake_timer timer_;
};

/// A listener whose accepted connections speak TLS (CAF's OpenSSL doorman,
/// with Agora's scribes).
class tls_doorman final : public net::doorman_impl {
 public:
  tls_doorman(guarded_multiplexer& mx, net::native_socket fd)
      : net::doorman_impl(mx, fd), mx_(mx) {}

  bool new_connection() override {
    if (detached()) return false;
    auto fd = acceptor_.accepted_socket();
    net::nonblocking(fd, true);
    std::string why;
    auto scribe = mx_.new_tls_scribe(fd, "", why);
    // A refused peer leaves the listener as it was: it goes on accepting.
    if (!scribe) return true;
    auto hdl = scribe->hdl();
    parent()->add_scribe(std::move(scribe));
    return caf::io::doorman::new_connection(&mx_, hdl);
  }

 private:
  guarded_multiplexer& mx_;
};

/// The middleman actor of a TLS process: CAF's, opening connections and
/// listeners that speak TLS (as `caf::openssl`'s middleman actor does, with
/// Agora's guarded scribes).
class tls_middleman_actor final : public caf::io::middleman_actor_impl {
 public:
  tls_middleman_actor(caf::actor_config& cfg, caf::actor broker, guarded_multiplexer* mx)
      : caf::io::middleman_actor_impl(cfg, std::move(broker)), mx_(*mx) {}

  const char* name() const override { return "agora.tls_middleman_actor"; }

 protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host, uint16_t port) override {
    auto target = host + ":" + std::to_string(port);
    mx_.shared().note(target, {});
    auto fd = net::new_tcp_connection(host, port);
    if (!fd) return std::move(fd.error());
    net::nonblocking(*fd, true);
    std::string why;
    auto scribe = mx_.new_tls_scribe(*fd, target, why);
    if (!scribe)
      return caf::make_error(caf::sec::cannot_connect_to_node, "TLS handshake failed: " + why);
    return scribe;
  }

  caf::expected<caf::io::doorman_ptr> open(uint16_t port, const char* addr, bool reuse) override {
    auto fd = net::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd) return std::move(fd.error());
    return caf::io::doorman_ptr{caf::make_counted<tls_doorman>(mx_, *fd)};
  }

 private:
  guarded_multiplexer& mx_;
};

/// CAF's middleman on the guarded backend (what `load<middleman,
/// Backend>()` builds, with the limits passed in), and with TLS the TLS
/// middleman actor beside CAF's.
class guarded_middleman final : public caf::io::middleman {
 public:
  guarded_middleman(caf::actor_system& sys, std::shared_ptr<transport_shared> shared)
      : caf::io::middleman(sys), backend_(&sys, std::move(shared)) {}

  caf::io::network::multiplexer& backend() override { return backend_; }

  void start() override {
    caf::io::middleman::start();
    if (backend_.shared().tls) {
      auto broker = named_broker<caf::io::basp_broker>(caf::atom("BASP"));
      tls_actor_ = system().spawn<tls_middleman_actor, caf::hidden>(std::move(broker), &backend_);
    }
  }

  void stop() override {
    backend_.stop_timer();
    if (tls_actor_) {
      caf::anon_send_exit(tls_actor_, caf::exit_reason::kill);
      tls_actor_ = nullptr;
    }
    caf::io::middleman::stop();
  }

  transport_shared& shared() { return backend_.shared(); }

  const caf::io::middleman_actor& tls_actor() const { return tls_actor_; }

 private:
  guarded_multiplexer backend_;
  caf::io::middleman_actor tls_actor_;
};

guarded_middleman* transport_of(caf::actor_system& sys) {
  if (!sys.has_middleman()) return nullptr;
  return dynamic_cast<guarded_middleman*>(&sys.middleman());
}

void load(caf::actor_system_config& cfg, const transport_limits& limits, bool tls) {
  auto lim = limits;
  lim.read_chunk_bytes = std::max<std::size_t>(lim.read_chunk_bytes, 64);
  cfg.module_factories.push_back([lim, tls](caf::actor_system& sys) -> caf::actor_system::module* {
    auto shared = std::make_shared<transport_shared>();
    shared->limits = lim;
    shared->tls = tls;
    const char* name = program_invocation_short_name;
    shared->name = name != nullptr ? name : "agora";
    return new guarded_middleman(sys, std::move(shared));
  });
}

}  // namespace

void load_transport(caf::actor_system_config& cfg, const transport_limits& limits) {
  load(cfg, limits, false);
}

void load_transport(caf::actor_system_config& cfg, const tls_options& tls,
                    const transport_limits& limits) {
  load(cfg, limits, tls.enabled());
  if (!tls.enabled()) return;
  // CAF's OpenSSL module reads these for every session it makes; with any
  // of them set it requires a certificate from each peer that the CA file
  // verifies (`SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT`), on both
  // sides. It is loaded after the middleman, which it needs.
  cfg.openssl_certificate = tls.cert_file;
  cfg.openssl_key = tls.key_file;
  cfg.openssl_cafile = tls.ca_file;
  cfg.load<caf::openssl::manager>();
}

bool tls_enabled(caf::actor_system& sys) {
  auto* mm = transport_of(sys);
  return mm != nullptr && mm->shared().tls;
}

caf::io::middleman_actor connector(caf::actor_system& sys) {
  auto* mm = transport_of(sys);
  if (mm != nullptr && mm->tls_actor()) return mm->tls_actor();
  return sys.middleman().actor_handle();
}

caf::expected<uint16_t> publish(caf::actor_system& sys, const caf::strong_actor_ptr& whom,
                                std::set<std::string> sigs, uint16_t port,
                                const std::string& addr) {
  if (!whom) return caf::sec::cannot_publish_invalid_actor;
  auto f = caf::make_function_view(connector(sys));
  // The reuse flag as everywhere in Agora: a restarted daemon binds its
  // port again at once, past the old connections' TIME_WAIT.
  return f(caf::publish_atom::value, port, whom, std::move(sigs), addr, true);
}

void unpublish(caf::actor_system& sys, const caf::actor_addr& whom, uint16_t port) {
  auto f = caf::make_function_view(connector(sys));
  static_cast<void>(f(caf::unpublish_atom::value, whom, port));
}

caf::expected<caf::actor> remote_actor(caf::actor_system& sys, const std::string& host,
                                       uint16_t port) {
  auto f = caf::make_function_view(connector(sys));
  auto res = f(caf::connect_atom::value, host, port);
  if (!res) return std::move(res.error());
  auto ptr = std::move(std::get<1>(*res));
  if (!ptr) return caf::make_error(caf::sec::no_actor_published_at_port, port);
  return caf::actor_cast<caf::actor>(std::move(ptr));
}

connect_failure explain_connect_error(caf::actor_system& sys, const std::string& host,
                                      uint16_t port, const caf::error& err) {
  auto* mm = transport_of(sys);
  if (mm != nullptr && mm->shared().tls) {
    auto f = mm->shared().failure_of(host + ":" + std::to_string(port));
    if (!f.reason.empty()) return {"TLS handshake failed: " + f.reason, f.refused};
  }
  return {sys.render(err), false};
}

std::uint64_t refused_connections(caf::actor_system& sys) {
  auto* mm = transport_of(sys);
  return mm ? mm->shared().refused.load(std::memory_order_relaxed) : 0;
}

std::uint64_t tls_handshake_failures(caf::actor_system& sys) {
  auto* mm = transport_of(sys);
  return mm ? mm->shared().tls_failures.load(std::memory_order_relaxed) : 0;
}

}  // namespace agora::protocol
