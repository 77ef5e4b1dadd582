#pragma once

#include <chrono>
#include <cstdint>

namespace agora::test {

/// Connects to 127.0.0.1:`port`; returns the socket (the caller closes
/// it), or -1.
int connect_loopback(uint16_t port);

/// Connects to 127.0.0.1:`port` and sends one 32-byte BASP header (CAF
/// 0.17: operation 1 = client handshake, two padding bytes, flags, the
/// payload length in network order at bytes 4-7, the rest zero) announcing
/// `payload` bytes, as a hostile peer would. Returns the socket (the caller
/// closes it), or -1.
int send_basp_header(uint16_t port, uint32_t payload);

/// Returns true when the peer of `fd` closes the connection within
/// `timeout`; whatever it sends first is read and dropped.
bool peer_closes(int fd, std::chrono::milliseconds timeout);

}  // namespace agora::test
