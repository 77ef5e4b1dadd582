#pragma once

// The tests' HTTP client is the one the CLI uses (agora::observability).
#include "agora/observability/http_client.hpp"

namespace agora::test {

using observability::http_get;
using observability::http_post;
using observability::http_result;

/// Sends `method path` with `body` (see `observability::http_call`).
inline http_result http_request(const std::string& method, const std::string& host, uint16_t port,
                                const std::string& path, const std::string& body = "",
                                std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                const std::string& content_type = "application/json") {
  return observability::http_call(method, host, port, path, body, timeout, content_type);
}

}  // namespace agora::test
