#include "ha_fixture.hpp"

#include <signal.h>

#include <stdexcept>

namespace agora::test {

ha_cluster::ha_cluster(size_t masters, std::vector<std::string> master_flags)
    : dir_("agora-ha"), master_flags_(std::move(master_flags)) {
  // A port picked as free can be taken by another process before a server
  // binds it: one more attempt, on new ports, before giving up.
  std::string error;
  for (int attempt = 0; attempt < 2 && !zk_; ++attempt) {
    zk_ = std::make_unique<zookeeper_ensemble>(3);
    if (!zk_->start(std::chrono::seconds(90), &error)) zk_.reset();
  }
  if (!zk_) throw std::runtime_error("ZooKeeper ensemble did not start: " + error);
  url_ = "zk://" + zk_->connect_string() + "/agora/test";
  masters_.resize(masters);
  for (size_t i = 0; i < masters; ++i) {
    start_on_new_ports(i);
    // The first one leads: wait for it before the next contends.
    if (i == 0 && wait_leader() != 0)
      throw std::runtime_error("the first master did not lead: " + masters_[0].proc->stderr_text());
  }
}

ha_cluster::~ha_cluster() {
  for (auto& a : agents_) a.proc->terminate(5s);
  for (auto& m : masters_)
    if (m.proc) {
      m.proc->terminate(5s);
      expect_state_view_verified(*m.proc);
    }
  remove_test_cgroups();
}

void ha_cluster::start_master(size_t i) {
  auto& m = masters_[i];
  std::vector<std::string> args = {"--zk=" + url_,
                                   "--zk-session-timeout=2s",
                                   "--port=" + std::to_string(m.http_port),
                                   "--actor-port=" + std::to_string(m.actor_port),
                                   "--allocation-interval=100ms",
                                   "--agent-ping-timeout=250ms",
                                   "--max-agent-ping-timeouts=8"};
  args.insert(args.end(), master_flags_.begin(), master_flags_.end());
  m.proc = std::make_unique<child_process>();
  if (!m.proc->start(binary_path("agora-master"), args))
    throw std::runtime_error("cannot start agora-master");
  bool up = false;
  wait_until(
      [&] {
        up = !role(i).empty();
        return up || !m.proc->running();
      },
      10s);
  if (!up) throw std::runtime_error("agora-master did not come up: " + m.proc->stderr_text());
}

void ha_cluster::start_on_new_ports(size_t i) {
  // As the ZooKeeper servers' above: a master that found its port taken
  // stops with "cannot listen on", and gets new ports.
  auto& m = masters_[i];
  for (int attempt = 1;; ++attempt) {
    m.http_port = free_port();
    m.actor_port = free_port();
    try {
      start_master(i);
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 3 || m.proc->running() ||
          m.proc->stderr_text().find("cannot listen on") == std::string::npos)
        throw;
    }
  }
}

void ha_cluster::restart_master(size_t i) { start_master(i); }

size_t ha_cluster::add_master() {
  masters_.emplace_back();
  start_on_new_ports(masters_.size() - 1);
  return masters_.size() - 1;
}

rapidjson::Document ha_cluster::health(size_t i) const {
  rapidjson::Document d;
  const auto& m = masters_.at(i);
  if (m.proc && m.proc->running()) {
    auto r = http_get("127.0.0.1", m.http_port, "/health", 1000ms);
    if (r.status == 200 && !d.Parse(r.body.c_str()).HasParseError() && d.IsObject()) return d;
  }
  d.SetObject();
  return d;
}

std::string ha_cluster::role(size_t i) const {
  auto d = health(i);
  return d.HasMember("role") && d["role"].IsString() ? d["role"].GetString() : "";
}

int ha_cluster::wait_leader(std::chrono::milliseconds timeout) const {
  int leader = -1;
  wait_until(
      [&] {
        int found = -1;
        int count = 0;
        for (size_t i = 0; i < masters_.size(); ++i)
          if (role(i) == "leader") {
            found = static_cast<int>(i);
            ++count;
          }
        leader = count == 1 ? found : -1;
        return leader >= 0;
      },
      timeout);
  return leader;
}

rapidjson::Document ha_cluster::state() const {
  rapidjson::Document d;
  for (size_t i = 0; i < masters_.size(); ++i) {
    if (role(i) != "leader") continue;
    auto r = http_get("127.0.0.1", masters_[i].http_port, "/state", 2000ms);
    if (r.status == 200 && !d.Parse(r.body.c_str()).HasParseError() && d.IsObject()) return d;
  }
  d.Parse("{\"agents\":[],\"frameworks\":[],\"completed_tasks\":[]}");
  return d;
}

bool ha_cluster::wait_state(const std::function<bool(const rapidjson::Document&)>& pred,
                            std::chrono::milliseconds timeout) const {
  return wait_until([&] { return pred(state()); }, timeout);
}

agent_process& ha_cluster::add_agent(const std::string& resources,
                                     const std::vector<std::string>& extra_flags) {
  agent_process a;
  a.args = extra_flags;  // appended to the fixture's own at every start
  a.work_dir = dir_.path() + "/agent-" + std::to_string(agents_.size());
  a.http_port = free_port();
  a.resources = resources;
  size_t want = agents_.size() + 1;
  start_agent(a, agents_.size());
  agents_.push_back(std::move(a));
  if (!wait_state([want](const rapidjson::Document& s) { return active_agents(s) >= want; }))
    throw std::runtime_error("agent did not register: " + agents_.back().proc->stderr_text());
  return agents_.back();
}

void ha_cluster::start_agent(agent_process& a, size_t index) {
  a.proc = std::make_unique<child_process>();
  std::vector<std::string> args = {"--master=" + url_,
                                   "--resources=" + a.resources,
                                   "--work-dir=" + a.work_dir,
                                   "--port=" + std::to_string(a.http_port),
                                   "--actor-port=0",
                                   "--kill-grace=1s",
                                   "--cgroups-root=" + test_cgroups_root(),
                                   "--hostname=agent-" + std::to_string(index)};
  args.insert(args.end(), a.args.begin(), a.args.end());
  if (!a.proc->start(binary_path("agora-agent"), args))
    throw std::runtime_error("cannot start agora-agent");
}

void ha_cluster::restart_agent(size_t index) { start_agent(agents_.at(index), index); }

size_t active_agents(const rapidjson::Document& s) {
  size_t n = 0;
  if (s.HasMember("agents"))
    for (const auto& a : s["agents"].GetArray()) n += a["active"].GetBool() ? 1 : 0;
  return n;
}

}  // namespace agora::test
