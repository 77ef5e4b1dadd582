#pragma once

#include <cstdint>

namespace agora::test {

/// Returns a TCP port that was free on 127.0.0.1 a moment ago (the kernel's
/// choice for a bind to port 0), never the same port twice in one process.
/// Another process may still take it before the caller binds it; callers
/// that can should bind port 0 themselves and report the real port.
uint16_t free_port();

}  // namespace agora::test
