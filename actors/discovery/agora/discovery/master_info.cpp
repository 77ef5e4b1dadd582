#include "agora/discovery/master_info.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "agora/zk/leader_detector.hpp"
#include "agora/zk/zk_url.hpp"

namespace agora::discovery {

namespace {

bool split_host_port(const std::string& text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  unsigned long p = 0;
  for (size_t i = colon + 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    p = p * 10 + static_cast<unsigned long>(text[i] - '0');
    if (p > 65535) return false;
  }
  if (p == 0) return false;
  host = text.substr(0, colon);
  port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace

std::string master_info::to_json() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto str = [&](const char* key, const std::string& v) {
    w.Key(key);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  str("id", id);
  str("hostname", hostname);
  str("actor_address", actor_host + ":" + std::to_string(actor_port));
  str("http_address", http_address);
  str("version", version);
  w.EndObject();
  return buf.GetString();
}

bool master_info::from_json(const std::string& json, master_info& out, std::string& error) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = "the master's info is not a JSON object";
    return false;
  }
  auto get = [&](const char* key) -> std::string {
    return doc.HasMember(key) && doc[key].IsString() ? doc[key].GetString() : "";
  };
  master_info m;
  m.id = get("id");
  m.hostname = get("hostname");
  m.http_address = get("http_address");
  m.version = get("version");
  if (!split_host_port(get("actor_address"), m.actor_host, m.actor_port)) {
    error = "the master's info has no valid 'actor_address' (HOST:PORT)";
    return false;
  }
  out = std::move(m);
  return true;
}

bool is_zk_url(const std::string& spec) { return spec.rfind("zk://", 0) == 0; }

bool check_master_spec(const std::string& spec, std::string& error) {
  if (is_zk_url(spec)) {
    auto url = zk::zk_url::parse(spec);
    if (!url) error = url.err().message;
    return static_cast<bool>(url);
  }
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(spec, host, port)) {
    error = "'" + spec + "' is not HOST:PORT or zk://HOST:PORT[,...]/PATH";
    return false;
  }
  return true;
}

bool resolve_master(const std::string& spec, bool http, std::string& host, uint16_t& port,
                    std::string& error, int64_t timeout_ms) {
  if (!is_zk_url(spec)) {
    if (!split_host_port(spec, host, port)) {
      error = "'" + spec + "' is not HOST:PORT or zk://HOST:PORT[,...]/PATH";
      return false;
    }
    return true;
  }
  auto url = zk::zk_url::parse(spec);
  if (!url) {
    error = url.err().message;
    return false;
  }
  auto leader = zk::detect_leader(url.value(), std::chrono::milliseconds{timeout_ms});
  if (!leader) {
    error = "no leading master found at " + spec + ": " + leader.err().message;
    return false;
  }
  master_info info;
  if (!master_info::from_json(leader.value().data, info, error)) return false;
  if (!http) {
    host = info.actor_host;
    port = info.actor_port;
    return true;
  }
  if (!split_host_port(info.http_address, host, port)) {
    error = "the leading master at " + spec + " publishes no HTTP address";
    return false;
  }
  return true;
}

}  // namespace agora::discovery
