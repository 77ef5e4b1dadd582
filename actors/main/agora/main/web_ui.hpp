#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "agora/observability/http_message.hpp"
#include "agora/observability/http_server.hpp"

namespace agora::main {

/// One file of the web UI (`observability/ui/`), embedded at build time by
/// `cmake/EmbedFiles.cmake` into a generated source in the build directory.
struct embedded_file {
  /// Its path under `observability/ui/` with a leading `/`, e.g. `/app.js`.
  const char* name;
  /// Its bytes (followed by a NUL not counted in `size`).
  const unsigned char* data;
  /// Its size in bytes.
  std::size_t size;
};

/// The embedded UI files (defined by the generated source).
extern const embedded_file embedded_files[];
/// How many `embedded_files` there are.
extern const std::size_t embedded_file_count;

/// Returns the content type served for a file named `name`, by extension
/// (`text/html`, `application/javascript`, `text/css`, `application/json`
/// for source maps, ...; `application/octet-stream` for others).
std::string content_type_for(const std::string& name);

/// The `Content-Security-Policy` of the UI's page: everything from the
/// master's own origin only, no inline script, no plugins, no framing.
inline constexpr const char* ui_content_security_policy =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

/// Returns the UI file `name` (e.g. `/index.html`, `/app.js`) as a response,
/// or a JSON 404 when there is no such file. The page carries
/// `ui_content_security_policy`, `X-Frame-Options: DENY` and
/// `Referrer-Policy: no-referrer`.
observability::http_response ui_file(const std::string& name);

/// Returns the third-party library file `rest` (the request path after
/// `/js/`, e.g. `bootstrap5/css/bootstrap.min.css`) read from `js_root`
/// (Debian's `/usr/share/javascript`). Only the libraries the UI uses are
/// served (`bootstrap5`, `d3`), only `.js`, `.css` and `.map` files, and no
/// path with an empty, `.` or `..` component, a component starting with
/// `.`, a backslash or a NUL: anything else is a JSON 404.
observability::http_response js_library_file(const std::string& js_root, const std::string& rest);

/// Adds the UI's routes to `http`: `GET /` (the single-page app, wrapped by
/// `wrap_index` so that a standby can send browsers to the leader),
/// `GET /ui/*` (its scripts and styles) and `GET /js/*` (the libraries,
/// from `js_root`).
void add_web_ui_routes(
    observability::http_server& http, const std::string& js_root,
    const std::function<observability::http_server::handler(observability::http_server::handler)>&
        wrap_index);

}  // namespace agora::main
