#include "cluster_fixture.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "agora/auth/challenge.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/transport.hpp"

namespace agora::test {

namespace {

std::string join_path(const std::string& a, const std::string& b) { return a + "/" + b; }

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

cluster::cluster(std::vector<std::string> master_flags) : master_flags_(std::move(master_flags)) {
  // A port free_port() found free can be taken before the master binds it
  // (by the ephemeral port of any other connection on this machine): the
  // master then stops with "cannot listen on", and gets new ports.
  for (int attempt = 1;; ++attempt) {
    http_port_ = free_port();
    actor_port_ = free_port();
    try {
      start_master();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 3 || master_->running() ||
          master_->stderr_text().find("cannot listen on") == std::string::npos)
        throw;
    }
  }
}

void cluster::start_master() {
  std::vector<std::string> args = {
      "--port=" + std::to_string(http_port_), "--actor-port=" + std::to_string(actor_port_),
      "--allocation-interval=100ms", "--agent-ping-timeout=250ms", "--max-agent-ping-timeouts=4"};
  args.insert(args.end(), master_flags_.begin(), master_flags_.end());
  master_ = std::make_unique<child_process>();
  if (!master_->start(binary_path("agora-master"), args))
    throw std::runtime_error("cannot start agora-master");
  bool up = false;
  wait_until(
      [&] {
        up = http_get("127.0.0.1", http_port_, "/health", 1000ms).status == 200;
        return up || !master_->running();
      },
      10s);
  if (!up) throw std::runtime_error("agora-master did not come up: " + master_->stderr_text());
}

void cluster::restart_master() {
  master_->kill_group(SIGKILL);
  master_->wait_exit(5s);
  start_master();
}

cluster::~cluster() {
  // A restarted agent's tasks are not its children (nor descendants of any
  // process here) and outlive it by design: end them through their pids.
  std::vector<pid_t> task_groups;
  for (auto& a : agents_) {
    rapidjson::Document d;
    auto r = http_get("127.0.0.1", a.http_port, "/state", 2000ms);
    if (r.status == 200 && !d.Parse(r.body.c_str()).HasParseError() && d.IsObject() &&
        d.HasMember("tasks") && d["tasks"].IsArray())
      for (const auto& t : d["tasks"].GetArray())
        if (t.HasMember("pid") && t["pid"].IsInt() && t["pid"].GetInt() > 0)
          task_groups.push_back(t["pid"].GetInt());
  }
  for (auto& a : agents_) a.proc->terminate(5s);
  for (pid_t g : task_groups) ::kill(-g, SIGKILL);
  if (master_) {
    master_->terminate(5s);
    expect_state_view_verified(*master_);
  }
  remove_test_cgroups();
}

agent_process& cluster::add_agent(const std::string& resources, const std::string& attributes,
                                  const std::vector<std::string>& extra_flags) {
  agent_process a;
  a.work_dir = join_path(dir_.path(), "agent-" + std::to_string(agents_.size()));
  a.http_port = free_port();
  a.proc = std::make_unique<child_process>();
  std::vector<std::string> args = {"--master=" + master_address(),
                                   "--resources=" + resources,
                                   "--attributes=" + attributes,
                                   "--work-dir=" + a.work_dir,
                                   "--port=" + std::to_string(a.http_port),
                                   "--actor-port=0",
                                   "--kill-grace=1s",
                                   "--cgroups-root=" + test_cgroups_root(),
                                   "--hostname=agent-" + std::to_string(agents_.size())};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  if (!a.proc->start(binary_path("agora-agent"), args))
    throw std::runtime_error("cannot start agora-agent");
  a.args = args;
  size_t want = agents_.size() + 1;
  agents_.push_back(std::move(a));
  bool registered = wait_state(
      [want](const rapidjson::Document& s) {
        size_t active = 0;
        for (const auto& x : s["agents"].GetArray()) active += x["active"].GetBool();
        return active >= want;
      },
      10s);
  if (!registered)
    throw std::runtime_error("agent did not register: " + agents_.back().proc->stderr_text());
  return agents_.back();
}

bool cluster::stop_agent(size_t index, int sig) {
  auto& a = agents_.at(index);
  if (!a.proc->signal(sig)) return false;
  return a.proc->wait_exit(10s).has_value();
}

bool cluster::start_agent(size_t index, const std::vector<std::string>& extra) {
  auto& a = agents_.at(index);
  a.proc = std::make_unique<child_process>();
  auto args = a.args;
  args.insert(args.end(), extra.begin(), extra.end());
  return a.proc->start(binary_path("agora-agent"), args);
}

rapidjson::Document cluster::state() const {
  rapidjson::Document d;
  std::map<std::string, std::string> headers;
  if (!http_authorization_.empty()) headers["Authorization"] = http_authorization_;
  auto r = observability::http_call("GET", "127.0.0.1", http_port_, "/state", "", 2000ms,
                                    "application/json", headers);
  if (r.status != 200 || d.Parse(r.body.c_str()).HasParseError() || !d.IsObject())
    d.Parse("{\"agents\":[],\"frameworks\":[],\"completed_tasks\":[]}");
  return d;
}

bool cluster::wait_state(const std::function<bool(const rapidjson::Document&)>& pred,
                         std::chrono::milliseconds timeout) const {
  return wait_until([&] { return pred(state()); }, timeout);
}

framework_system::framework_system() {
  protocol::announce(cfg_);
  protocol::load_transport(cfg_);
  sys_ = std::make_unique<caf::actor_system>(cfg_);
}

test_framework::test_framework(caf::actor_system& sys, const std::string& master_address,
                               protocol::framework_info info, bool auto_acknowledge,
                               const std::string& secret)
    : self_(sys) {
  scheduler::driver_config cfg;
  cfg.auto_acknowledge = auto_acknowledge;
  cfg.secret = secret;
  if (master_address.rfind("zk://", 0) == 0) {
    cfg.master_url = master_address;
  } else {
    cfg.master_host = master_address.substr(0, master_address.rfind(':'));
    cfg.master_port =
        static_cast<uint16_t>(std::stoi(master_address.substr(master_address.rfind(':') + 1)));
  }
  cfg.framework = std::move(info);
  driver_ = scheduler::spawn_driver(sys, cfg, caf::actor_cast<caf::actor>(self_));
}

test_framework::~test_framework() { stop_driver(); }

void test_framework::stop_driver() {
  if (driver_) {
    caf::anon_send_exit(driver_, caf::exit_reason::user_shutdown);
    driver_ = nullptr;
  }
}

bool test_framework::receive_one(std::chrono::milliseconds timeout) {
  bool got = true;
  self_->receive([&](protocol::subscribed& s) { framework_id_ = s.framework_id; },
                 [&](protocol::offers_msg& m) {
                   offers_.insert(offers_.end(), m.offers.begin(), m.offers.end());
                 },
                 [&](protocol::rescind_offer& r) {
                   offers_.erase(
                       std::remove_if(offers_.begin(), offers_.end(),
                                      [&](const protocol::offer& o) { return o.id == r.offer_id; }),
                       offers_.end());
                 },
                 [&](protocol::status_update& u) { statuses_.push_back(u.status); },
                 [&](scheduler::disconnected_msg&) {}, [&](protocol::framework_error&) {},
                 caf::after(timeout) >> [&] { got = false; });
  return got;
}

void test_framework::pump(std::chrono::milliseconds duration) {
  auto deadline = std::chrono::steady_clock::now() + duration;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !receive_one(left)) return;
  }
}

std::string test_framework::wait_subscribed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (framework_id_.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !receive_one(left)) break;
  }
  return framework_id_;
}

std::vector<protocol::offer> test_framework::wait_offers(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (offers_.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !receive_one(left)) break;
  }
  return offers_;
}

std::optional<protocol::task_status> test_framework::wait_status(
    const std::string& task_id, protocol::task_state state, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t checked = 0;
  for (;;) {
    for (; checked < statuses_.size(); ++checked)
      if (statuses_[checked].task_id == task_id && statuses_[checked].state == state)
        return statuses_[checked];
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !receive_one(left)) return std::nullopt;
  }
}

protocol::task_info make_task(const std::string& id, const std::string& command, double cpus,
                              int64_t mem) {
  protocol::task_info t;
  t.id = id;
  t.name = id;
  t.command = command;
  t.res = protocol::resources::make(cpus, mem);
  return t;
}

std::string find_sandbox(const std::string& dir, const std::string& task_id) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return {};
  std::string found;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string p = join_path(dir, name);
    if (!is_dir(p)) continue;
    if (name == task_id && dir.size() >= 6 && dir.compare(dir.size() - 6, 6, "/tasks") == 0) {
      found = p;
      break;
    }
    found = find_sandbox(p, task_id);
    if (!found.empty()) break;
  }
  ::closedir(d);
  return found;
}

cli_run agora_cli(std::vector<std::string> args) {
  child_process p;
  cli_run r;
  if (!p.start(binary_path("agora"), args)) return r;
  auto code = p.wait_exit(30s);
  r.status = code ? *code : -1;
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

std::string authenticate(caf::scoped_actor& self, caf::actor_system& sys, const caf::actor& master,
                         const std::string& principal, const std::string& secret,
                         const std::string& role) {
  std::string nonce;
  std::string error;
  self->request(master, 10s, protocol::auth_start{principal, role})
      .receive([&](protocol::auth_challenge& c) { nonce = c.nonce; },
               [&](caf::error& e) { error = sys.render(e); });
  if (!error.empty()) return error;
  self->request(
          master, 10s,
          protocol::auth_proof{principal, role, nonce, auth::proof(secret, role, principal, nonce)})
      .receive([&](protocol::auth_done&) {}, [&](caf::error& e) { error = sys.render(e); });
  return error;
}

}  // namespace agora::test
