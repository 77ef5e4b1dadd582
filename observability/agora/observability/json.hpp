#pragma once

#include <string>

namespace agora::observability {

/// Returns `s` escaped for inclusion in a JSON string (the surrounding quotes
/// are not included): `"` and `\` are backslash-escaped, control characters
/// become `\n`, `\t`, ... or `\u00XX`; other bytes (including UTF-8) are kept.
std::string json_escape(const std::string& s);

/// Returns `s` as a complete JSON string literal, quotes included.
std::string json_quote(const std::string& s);

}  // namespace agora::observability
