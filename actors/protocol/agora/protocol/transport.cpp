#include "agora/protocol/transport.hpp"

#include <errno.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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
  bool deliver(caf::execution_unit* ctx, const void* buf, std::size_t n) {
    ++deliveries_;
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
