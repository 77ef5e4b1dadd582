#pragma once

// Test helper shared by the agent's test files: a GET on loopback through
// agora::test_support's HTTP client, returned as raw text (status line, blank
// line, body), which is what the agent tests search.

#include <chrono>
#include <cstdint>
#include <string>

#include "agora/test/http_client.hpp"

namespace agora::agent::testing {

/// Returns `HTTP/1.1 STATUS\r\n\r\nBODY` for `GET path`, or "" when the
/// request failed.
inline std::string http_get(uint16_t port, const std::string& path) {
  auto r = agora::test::http_get("127.0.0.1", port, path, std::chrono::seconds{5});
  if (!r.ok) return "";
  return "HTTP/1.1 " + std::to_string(r.status) + "\r\n\r\n" + r.body;
}

}  // namespace agora::agent::testing
