#include "agora/main/web_ui.hpp"

#include <array>
#include <fstream>
#include <sstream>

namespace agora::main {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Returns true when every `/`-separated component of `rest` is a plain
/// name: not empty, not starting with `.` (so neither `.` nor `..` nor a
/// hidden file), and free of backslashes and NULs.
bool plain_relative_path(const std::string& rest) {
  if (rest.empty() || rest.find('\\') != std::string::npos || rest.find('\0') != std::string::npos)
    return false;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('/', start);
    if (end == std::string::npos) end = rest.size();
    if (end == start || rest[start] == '.') return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

std::string content_type_for(const std::string& name) {
  if (ends_with(name, ".html")) return "text/html; charset=utf-8";
  if (ends_with(name, ".js")) return "application/javascript; charset=utf-8";
  if (ends_with(name, ".css")) return "text/css; charset=utf-8";
  if (ends_with(name, ".map") || ends_with(name, ".json")) return "application/json";
  if (ends_with(name, ".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

observability::http_response ui_file(const std::string& name) {
  for (size_t i = 0; i < embedded_file_count; ++i) {
    const auto& f = embedded_files[i];
    if (name != f.name) continue;
    observability::http_response r;
    r.content_type = content_type_for(name);
    r.body.assign(reinterpret_cast<const char*>(f.data), f.size);
    if (ends_with(name, ".html")) {
      // Scripts and styles only from the master itself (the UI has no
      // inline script), no framing (the UI has operator buttons), no
      // referrer leaking task ids elsewhere.
      r.headers = {{"Content-Security-Policy", ui_content_security_policy},
                   {"X-Frame-Options", "DENY"},
                   {"Referrer-Policy", "no-referrer"}};
    }
    return r;
  }
  return observability::http_response::error(404, "no UI file " + name);
}

observability::http_response js_library_file(const std::string& js_root, const std::string& rest) {
  static const std::array<const char*, 2> libraries{"bootstrap5/", "d3/"};
  auto not_found = [&] {
    return observability::http_response::error(404, "no library file /js/" + rest);
  };
  if (!plain_relative_path(rest)) return not_found();
  bool known = false;
  for (const char* lib : libraries) known = known || rest.rfind(lib, 0) == 0;
  if (!known || !(ends_with(rest, ".js") || ends_with(rest, ".css") || ends_with(rest, ".map")))
    return not_found();
  std::ifstream in(js_root + "/" + rest, std::ios::binary);
  if (!in) return not_found();
  std::ostringstream body;
  body << in.rdbuf();
  if (in.bad()) return observability::http_response::error(500, "cannot read /js/" + rest);
  observability::http_response r;
  r.content_type = content_type_for(rest);
  r.body = body.str();
  return r;
}

void add_web_ui_routes(
    observability::http_server& http, const std::string& js_root,
    const std::function<observability::http_server::handler(observability::http_server::handler)>&
        wrap_index) {
  http.route("GET", "/",
             wrap_index([](const observability::http_request&) { return ui_file("/index.html"); }));
  http.route("GET", "/ui/*",
             [](const observability::http_request& req) { return ui_file(req.path.substr(3)); });
  http.route("GET", "/js/*", [js_root](const observability::http_request& req) {
    return js_library_file(js_root, req.path.substr(4));
  });
}

}  // namespace agora::main
