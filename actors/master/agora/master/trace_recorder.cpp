#include "agora/master/trace_recorder.hpp"

#include <chrono>
#include <fstream>
#include <memory>

#include <caf/all.hpp>

#include "agora/observability/json.hpp"

namespace agora::master {

namespace {

using observability::json_quote;

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string res_json(const protocol::resources& r) {
  std::string out =
      "{\"cpus\":" + std::to_string(r.cpus()) + ",\"mem\":\"" + std::to_string(r.mem_bytes) + "B\"";
  if (r.disk_bytes > 0) out += ",\"disk\":\"" + std::to_string(r.disk_bytes) + "B\"";
  if (r.gpus > 0) out += ",\"gpus\":" + std::to_string(r.gpus);
  return out + "}";
}

std::string map_json(const std::map<std::string, std::string>& m) {
  std::string out = "{";
  for (auto& [k, v] : m) out += (out.size() > 1 ? "," : "") + json_quote(k) + ":" + json_quote(v);
  return out + "}";
}

}  // namespace

bool trace_recorder::open(caf::actor_system& sys, const std::string& path, std::string& error) {
  auto file = std::make_shared<std::ofstream>(path, std::ios::trunc);
  if (!*file) {
    error = "--record-trace: cannot write '" + path + "'";
    return false;
  }
  start_ns_ = steady_ns();
  writer_ = sys.spawn<caf::detached>([file](caf::event_based_actor*) -> caf::behavior {
    return {[file](const std::string& line) {
      *file << line << '\n';
      file->flush();
    }};
  });
  return true;
}

trace_recorder::~trace_recorder() {
  if (writer_) caf::anon_send_exit(writer_, caf::exit_reason::user_shutdown);
}

int64_t trace_recorder::now_ms() const { return (steady_ns() - start_ns_) / 1000000; }

void trace_recorder::write(std::string line) {
  if (writer_) caf::anon_send(writer_, std::move(line));
}

void trace_recorder::agent_added(const std::string& id, const protocol::resources& total,
                                 const std::map<std::string, std::string>& attributes) {
  if (!agents_.insert(id).second) return;
  write("{\"t\":\"" + std::to_string(now_ms()) +
        "ms\",\"ev\":\"agent_add\",\"id\":" + json_quote(id) + ",\"res\":" + res_json(total) +
        ",\"attrs\":" + map_json(attributes) + "}");
}

void trace_recorder::agent_removed(const std::string& id) {
  if (agents_.erase(id) == 0) return;
  write("{\"t\":\"" + std::to_string(now_ms()) +
        "ms\",\"ev\":\"agent_remove\",\"id\":" + json_quote(id) + "}");
}

void trace_recorder::framework_added(const std::string& id, const std::string& role,
                                     const std::map<std::string, std::string>& labels) {
  if (!frameworks_.insert(id).second) return;
  write("{\"t\":\"" + std::to_string(now_ms()) + "ms\",\"ev\":\"framework_add\",\"id\":" +
        json_quote(id) + ",\"role\":" + json_quote(role) + ",\"labels\":" + map_json(labels) + "}");
}

void trace_recorder::framework_removed(const std::string& id) {
  if (frameworks_.erase(id) == 0) return;
  write("{\"t\":\"" + std::to_string(now_ms()) +
        "ms\",\"ev\":\"framework_remove\",\"id\":" + json_quote(id) + "}");
}

void trace_recorder::task_ended(const std::string& framework, const protocol::resources& res,
                                int64_t launched_ms) {
  if (frameworks_.count(framework) == 0) return;
  int64_t ran = std::max<int64_t>(0, now_ms() - launched_ms);
  write("{\"t\":\"" + std::to_string(launched_ms) + "ms\",\"ev\":\"request\",\"fw\":" +
        json_quote(framework) + ",\"tasks\":1,\"res\":" + res_json(res) + ",\"duration\":\"" +
        std::to_string(ran) + "ms\"}");
}

}  // namespace agora::master
