#pragma once

// JSON renderings of protocol values shared by every `/state` endpoint, so
// the master's and the agents' JSON have the same shapes. Templates over a
// RapidJSON-style writer (`Key`, `String`, `Double`, `Int64`, ...), so the
// protocol library itself does not depend on RapidJSON.

#include <string>

#include "agora/protocol/resources.hpp"

namespace agora::protocol::json {

/// Writes `"key": "value"`.
template <class Writer>
void string_field(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<unsigned>(value.size()));
}

/// Writes `"key": {"cpus": 1.5, "mem": BYTES, "disk": BYTES, "gpus": N,
/// "ports": "[31000-32000]"}`.
template <class Writer>
void resources_field(Writer& w, const char* key, const resources& r) {
  w.Key(key);
  w.StartObject();
  w.Key("cpus");
  w.Double(r.cpus());
  w.Key("mem");
  w.Int64(r.mem_bytes);
  w.Key("disk");
  w.Int64(r.disk_bytes);
  w.Key("gpus");
  w.Int64(r.gpus);
  // Port ranges as `[{"begin": 31000, "end": 32000}, ...]` (inclusive).
  w.Key("ports");
  w.StartArray();
  for (const auto& range : r.ports) {
    w.StartObject();
    w.Key("begin");
    w.Uint(range.begin);
    w.Key("end");
    w.Uint(range.end);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace agora::protocol::json
