#include "agora/protocol/transport.hpp"

#include <errno.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/atom.hpp>
#include <caf/io/basp/header.hpp>
#include <caf/io/basp/message_type.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/scribe_impl.hpp>

namespace agora::protocol {
namespace {

namespace net = caf::io::network;

/// What the transport's connections share: the limits, the log prefix and
/// the count of refused connections.
struct transport_shared {
  transport_limits limits;
  std::string name;
  std::atomic<std::uint64_t> refused{0};
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
  bool str(std::string& x) {
    std::size_t n = 0;
    if (!varbyte(n) || static_cast<std::size_t>(end_ - at_) < n) return false;
    x.assign(reinterpret_cast<const char*>(at_), n);
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
  std::string types;
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

/// A scribe (CAF's connection object) that never sizes a read buffer to an
/// announced length. An `exactly(n)` read above the chunk size is read as a
/// sequence of chunk-sized reads into a buffer that grows with the bytes
/// that arrive, then handed to the broker in one piece; a read above the
/// limit closes the connection instead.
///
/// The broker calls `configure_read` from inside `consume` (the BASP broker
/// asks for the payload while handling the header), so a refusal found
/// there is acted on after `consume` returns: the scribe reports a read
/// failure, which detaches it from the broker with the usual
/// connection-closed message, and the stream stops reading.
class guarded_scribe final : public net::scribe_impl {
 public:
  guarded_scribe(net::default_multiplexer& mx, net::native_socket fd,
                 std::shared_ptr<transport_shared> shared)
      : net::scribe_impl(mx, fd), shared_(std::move(shared)) {}

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
      net::scribe_impl::configure_read(cfg);
      return;
    }
    wanted_ = cfg.second;
    assembly_.clear();
    net::scribe_impl::configure_read(caf::io::receive_policy::exactly(lim.read_chunk_bytes));
  }

  bool consume(caf::execution_unit* ctx, const void* buf, std::size_t n) override {
    if (wanted_ == 0) return deliver(ctx, buf, n);
    auto first = static_cast<const char*>(buf);
    assembly_.insert(assembly_.end(), first, first + n);
    if (assembly_.size() < wanted_) {
      auto next = std::min(shared_->limits.read_chunk_bytes, wanted_ - assembly_.size());
      net::scribe_impl::configure_read(caf::io::receive_policy::exactly(next));
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

  std::vector<char>& rd_buf() override {
    return delivering_assembly_ ? assembly_ : net::scribe_impl::rd_buf();
  }

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
                   shared_->name.c_str(), addr().c_str(), static_cast<unsigned>(port()), why);
      io_failure(ctx, net::operation::read);
      return false;
    }
    auto ok = caf::io::scribe::consume(ctx, buf, n);
    if (refused_size_ == 0) return ok;
    shared_->refused.fetch_add(1, std::memory_order_relaxed);
    std::fprintf(stderr,
                 "%s: closing the actor connection from %s:%u: it announced a message of %zu "
                 "bytes, more than the limit of %zu%s\n",
                 shared_->name.c_str(), addr().c_str(), static_cast<unsigned>(port()),
                 refused_size_, refused_limit_, deliveries_ <= 2 ? " before its handshake" : "");
    refused_size_ = 0;
    io_failure(ctx, net::operation::read);
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

/// CAF's default network backend, except that every connection it makes
/// (accepted by a doorman or opened by `new_tcp_scribe`, both of which go
/// through `new_scribe`) is a `guarded_scribe`.
class guarded_multiplexer final : public net::default_multiplexer {
 public:
  guarded_multiplexer(caf::actor_system* sys, std::shared_ptr<transport_shared> shared)
      : net::default_multiplexer(sys), shared_(std::move(shared)) {}

  caf::io::scribe_ptr new_scribe(net::native_socket fd) override {
    return caf::make_counted<guarded_scribe>(*this, fd, shared_);
  }

  const transport_shared& shared() const { return *shared_; }

 private:
  std::shared_ptr<transport_shared> shared_;
};

/// CAF's middleman on the guarded backend (what `load<middleman,
/// Backend>()` builds, with the limits passed in).
class guarded_middleman final : public caf::io::middleman {
 public:
  guarded_middleman(caf::actor_system& sys, std::shared_ptr<transport_shared> shared)
      : caf::io::middleman(sys), backend_(&sys, std::move(shared)) {}

  caf::io::network::multiplexer& backend() override { return backend_; }

  const transport_shared& shared() const { return backend_.shared(); }

 private:
  guarded_multiplexer backend_;
};

}  // namespace

void load_transport(caf::actor_system_config& cfg, const transport_limits& limits) {
  auto lim = limits;
  lim.read_chunk_bytes = std::max<std::size_t>(lim.read_chunk_bytes, 64);
  cfg.module_factories.push_back([lim](caf::actor_system& sys) -> caf::actor_system::module* {
    auto shared = std::make_shared<transport_shared>();
    shared->limits = lim;
    const char* name = program_invocation_short_name;
    shared->name = name != nullptr ? name : "agora";
    return new guarded_middleman(sys, std::move(shared));
  });
}

std::uint64_t refused_connections(caf::actor_system& sys) {
  if (!sys.has_middleman()) return 0;
  auto* mm = dynamic_cast<guarded_middleman*>(&sys.middleman());
  return mm ? mm->shared().refused.load(std::memory_order_relaxed) : 0;
}

}  // namespace agora::protocol
