#include "agora/observability/http_message.hpp"

#include <utility>

#include "agora/observability/json.hpp"

namespace agora::observability {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Calls `f(raw_name, raw_value, has_value)` for each `&`-separated query
// parameter until `f` returns true; returns whether it did.
template <class F>
bool for_each_param(const std::string& query, F f) {
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto end = query.find('&', pos);
    if (end == std::string::npos) end = query.size();
    if (end > pos) {
      auto item = query.substr(pos, end - pos);
      auto eq = item.find('=');
      bool stop = eq == std::string::npos ? f(item, std::string{}, false)
                                          : f(item.substr(0, eq), item.substr(eq + 1), true);
      if (stop) return true;
    }
    pos = end + 1;
  }
  return false;
}

}  // namespace

std::string url_decode(const std::string& s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (c == '+' && plus_is_space) ? ' ' : c;
  }
  return out;
}

std::string http_request::param(const std::string& name, const std::string& fallback) const {
  std::string result = fallback;
  for_each_param(query, [&](const std::string& raw_name, const std::string& raw_value, bool) {
    if (url_decode(raw_name) != name) return false;
    result = url_decode(raw_value);
    return true;
  });
  return result;
}

bool http_request::has_param(const std::string& name) const {
  return for_each_param(query, [&](const std::string& raw_name, const std::string&, bool) {
    return url_decode(raw_name) == name;
  });
}

std::string http_request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string{} : it->second;
}

http_response http_response::json(std::string body, int status) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http_response http_response::json(std::shared_ptr<const std::string> body, int status) {
  http_response r;
  r.status = status;
  r.shared_body = std::move(body);
  return r;
}

http_response http_response::redirect(int status, const std::string& location,
                                      const std::string& message) {
  http_response r;
  r.status = status;
  r.location = location;
  r.body = "{\"error\":" + json_quote(message) + ",\"status\":" + std::to_string(status) +
           ",\"location\":" + json_quote(location) + "}";
  return r;
}

http_response http_response::error(int status, const std::string& message) {
  http_response r;
  r.status = status;
  r.body =
      "{\"error\": \"" + json_escape(message) + "\", \"status\": " + std::to_string(status) + "}";
  return r;
}

http_response http_response::text(std::string body, std::string content_type) {
  http_response r;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

}  // namespace agora::observability
