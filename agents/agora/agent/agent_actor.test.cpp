#include "agora/agent/agent_actor.hpp"
#include "agora/agent/agent_state.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include "agora/agent/test_http.hpp"
#include "agora/test/cgroups_root.hpp"

#include "agora/protocol/announce.hpp"
#include "agora/protocol/errors.hpp"

using namespace agora;
using namespace agora::agent;
using namespace agora::protocol;
using namespace std::chrono_literals;

namespace {

// The test asks the fake master to send `msg` to `to`: an agent obeys only
// its master.
struct relay {
  caf::actor to;
  caf::message msg;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, relay& x) {
  return f(caf::meta::type_name("relay"), x.to, x.msg);
}

// What the fake master tells the test about.
struct fake_master_state {
  static constexpr const char* name = "fake_master";
  caf::actor observer;
  std::string id = "agent-1";
  int64_t epoch = -1;  ///< The leader epoch it answers registrations with.
};

// When set, the fake master leaves acknowledgements to the test (`ack`);
// otherwise it acknowledges every update at once, as a master relaying a
// framework's acknowledgements does.
std::atomic<bool> manual_acks{false};

// A master stand-in: admits agents (forwarding the registration to the
// observer), and forwards every status update to the observer.
// It never pings; a `ping_interval_ms` of 0 tells the agent not to expect
// pings.
caf::behavior fake_master(caf::stateful_actor<fake_master_state>* self, caf::actor observer,
                          std::string id, int64_t ping_interval_ms, int64_t epoch) {
  self->state.observer = std::move(observer);
  self->state.id = std::move(id);
  self->state.epoch = epoch;
  return {
      [self, ping_interval_ms](register_agent& m) {
        self->send(self->state.observer, m);
        return agent_registered{self->state.id, ping_interval_ms, self->state.epoch};
      },
      [self, ping_interval_ms](reregister_agent& m) {
        self->send(self->state.observer, m);
        return agent_registered{m.info.id, ping_interval_ms, self->state.epoch};
      },
      [self](status_update& m) {
        self->send(self->state.observer, m);
        if (!manual_acks && !m.status.uuid.empty()) {
          acknowledge a{m.status.framework_id, m.status.agent_id, m.status.task_id, m.status.uuid};
          a.epoch = self->state.epoch;
          self->send(caf::actor_cast<caf::actor>(self->current_sender()), a);
        }
      },
      [self](relay& m) { self->send(m.to, m.msg); },
      [](pong_atom) {},
  };
}

class config : public caf::actor_system_config {
 public:
  config() {
    protocol::announce(*this);
    agent::announce(*this);
    add_message_type<relay>("agora.test.relay");
    load<caf::io::middleman>();
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using agora::agent::testing::http_get;

class agent_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    work_dir_ = (std::filesystem::temp_directory_path() /
                 ("agora-agent-" + std::to_string(::getpid()) + "-" + name))
                    .string();
    std::filesystem::remove_all(work_dir_);
    cfg_.hostname = "test-host";
    std::string err;
    ASSERT_TRUE(
        resources::parse("cpus:2;mem:1GiB;disk:1GiB;ports:[31000-31010]", cfg_.resources, err))
        << err;
    cfg_.attributes = {{"rack", "r1"}};
    cfg_.work_dir = work_dir_;
    cfg_.kill_grace = 200ms;
    cfg_.http_enabled = false;
    cfg_.backoff_min = 50ms;
    cfg_.log = [](const std::string&) {};
    cfg_.cgroups.root = agora::test::test_cgroups_root();
  }

  void TearDown() override {
    manual_acks = false;
    if (agent_) {
      self_->send_exit(agent_, caf::exit_reason::user_shutdown);
      self_->wait_for(agent_);
    }
    if (master_) self_->send_exit(master_, caf::exit_reason::user_shutdown);
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
    agora::test::remove_test_cgroups();
  }

  // Starts the fake master (leading at `epoch`; -1: standalone) and an agent
  // registered with it.
  void start(int64_t epoch = -1) {
    master_ = sys_.spawn(fake_master, caf::actor_cast<caf::actor>(self_), std::string{"agent-1"},
                         int64_t{0}, epoch);
    agent_ = spawn_agent(sys_, cfg_, master_);
    ASSERT_TRUE(agent_);
    auto reg = expect_registration();
    ASSERT_TRUE(reg);
    EXPECT_EQ(reg->hostname, "test-host");
    EXPECT_EQ(reg->total, cfg_.resources);
  }

  // Starts the fake master and an agent serving HTTP on a free port;
  // returns the port and sets `http_address_`.
  uint16_t start_with_http(int64_t epoch = -1) {
    cfg_.http_enabled = true;
    cfg_.http_port = 0;
    cfg_.on_http_started = [this](const std::string& a) { http_address_ = a; };
    start(epoch);
    EXPECT_EQ(http_address_.rfind("127.0.0.1:", 0), 0u) << http_address_;
    return http_address_.size() > 10 ? static_cast<uint16_t>(std::stoi(http_address_.substr(10)))
                                     : 0;
  }

  std::optional<agent_info> expect_registration(std::chrono::milliseconds timeout = 5s) {
    std::optional<agent_info> result;
    self_->receive([&](register_agent& m) { result = m.info; },
                   [&](reregister_agent& m) { result = m.info; }, caf::after(timeout) >> [] {});
    return result;
  }

  // Returns the next status update the master saw (bounded wait).
  std::optional<task_status> next_update(std::chrono::milliseconds timeout = 10s) {
    std::optional<task_status> result;
    self_->receive(
        [&](status_update& m) {
          result = m.status;
          last_latest_ = m.latest_state;
        },
        caf::after(timeout) >> [] {});
    return result;
  }

  /// The `latest_state` of the update `next_update` returned last.
  task_state last_latest_ = task_state::staging;

  void run(const std::string& task_id, const std::string& command, double cpus = 0.1) {
    run_task m;
    m.framework.id = "fw-1";
    m.framework.name = "test";
    m.role = "web";
    m.task.id = task_id;
    m.task.name = task_id;
    m.task.command = command;
    m.task.res = resources::make(cpus, 32 << 20);
    as_master(m);
  }

  // Sends `msg` to the agent as its master does.
  template <class T>
  void as_master(T msg, caf::actor to = {}) {
    self_->send(master_, relay{to ? to : agent_, caf::make_message(std::move(msg))});
  }

  void ack(const task_status& s) {
    as_master(acknowledge{s.framework_id, s.agent_id, s.task_id, s.uuid});
  }

  // Expects the next update for `task_id` to be in `state`; returns it.
  task_status expect_state(const std::string& task_id, task_state state) {
    auto s = next_update();
    EXPECT_TRUE(s) << "no update, expected " << to_string(state);
    if (!s) return {};
    EXPECT_EQ(s->task_id, task_id);
    EXPECT_EQ(s->framework_id, "fw-1");
    EXPECT_EQ(s->agent_id, "agent-1");
    EXPECT_EQ(to_string(s->state), to_string(state)) << s->message;
    EXPECT_EQ(s->uuid.size(), 32u);
    EXPECT_GT(s->timestamp_ns, 0);
    return *s;
  }

  config sys_cfg_;
  caf::actor_system sys_{sys_cfg_};
  caf::scoped_actor self_{sys_};
  agent_config cfg_;
  std::string work_dir_;
  caf::actor master_;
  caf::actor agent_;
  std::string http_address_;
};

}  // namespace

TEST(agent_exit, describes_exits_as_mesos_does) {
  task_exited ok{"f", "t", 1, false, 0, 0, false};
  EXPECT_EQ(describe_exit(ok).state, task_state::finished);
  EXPECT_EQ(describe_exit(ok).exit_code, 0);
  task_exited three{"f", "t", 1, false, 3, 0, false};
  EXPECT_EQ(describe_exit(three).state, task_state::failed);
  EXPECT_EQ(describe_exit(three).message, "exited with status 3");
  EXPECT_EQ(describe_exit(three).exit_code, 3);
  task_exited segv{"f", "t", 1, true, -1, 11, false};
  EXPECT_EQ(describe_exit(segv).state, task_state::failed);
  EXPECT_EQ(describe_exit(segv).message, "killed by signal 11 (SIGSEGV)");
  task_exited killed{"f", "t", 1, true, -1, 15, true};
  EXPECT_EQ(describe_exit(killed).state, task_state::killed);
  // The OOM killer ended it (the shell reports its child's SIGKILL as 137).
  task_exited oom{"f",
                  "t",
                  1,
                  false,
                  137,
                  0,
                  false,
                  "REASON_CONTAINER_LIMITATION_MEMORY",
                  "memory limit of 32 MiB reached"};
  auto o = describe_exit(oom);
  EXPECT_EQ(o.state, task_state::failed);
  EXPECT_EQ(o.reason, "REASON_CONTAINER_LIMITATION_MEMORY");
  EXPECT_EQ(o.message, "memory limit of 32 MiB reached (exited with status 137)");
  // A kill on request stays a kill, whatever the container saw.
  oom.kill_requested = true;
  EXPECT_EQ(describe_exit(oom).state, task_state::killed);
}

TEST_F(agent_test, registers_with_its_info) { start(); }

TEST_F(agent_test, run_task_reports_starting_running_finished_with_output) {
  start();
  run("t1", "echo hello from $AGORA_TASK_ID");
  auto starting = expect_state("t1", task_state::starting);
  auto running = expect_state("t1", task_state::running);
  auto finished = expect_state("t1", task_state::finished);
  EXPECT_EQ(finished.exit_code, 0);
  EXPECT_NE(starting.uuid, running.uuid);
  EXPECT_NE(running.uuid, finished.uuid);
  EXPECT_EQ(read_file(work_dir_ + "/frameworks/fw-1/tasks/t1/stdout"), "hello from t1\n");
}

TEST_F(agent_test, failing_task_reports_its_exit_code) {
  start();
  run("t1", "exit 3");
  expect_state("t1", task_state::starting);
  expect_state("t1", task_state::running);
  auto failed = expect_state("t1", task_state::failed);
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_EQ(failed.message, "exited with status 3");
}

TEST_F(agent_test, updates_go_out_in_order_one_at_a_time_and_back_off_until_acknowledged) {
  // The framework acknowledges late: the task's STARTING, RUNNING and
  // FINISHED are all recorded at once, but only the oldest is in flight.
  manual_acks = true;
  cfg_.status_retry_interval = 200ms;
  cfg_.status_retry_max = 5s;
  start();
  run("t1", "true");
  auto starting = expect_state("t1", task_state::starting);
  // Only STARTING comes again, at growing intervals (200, 400, 800 ms),
  // each retry telling the master the newest state: the task finished.
  std::vector<std::chrono::steady_clock::time_point> at = {std::chrono::steady_clock::now()};
  while (at.size() < 4) {
    auto s = next_update(5s);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->uuid, starting.uuid) << to_string(s->state) << " overtook STARTING";
    at.push_back(std::chrono::steady_clock::now());
  }
  EXPECT_EQ(last_latest_, task_state::finished);
  auto gap = [&](size_t i) { return at[i + 1] - at[i]; };
  EXPECT_GT(gap(2), gap(1) * 3 / 2) << "no backoff";
  // Each acknowledgement releases the next update of the task, in order.
  ack(starting);
  auto running = next_update(5s);
  ASSERT_TRUE(running);
  ASSERT_EQ(running->state, task_state::running);
  ack(*running);
  auto finished = next_update(5s);
  ASSERT_TRUE(finished);
  ASSERT_EQ(finished->state, task_state::finished);
  ack(*finished);
  // Then silence: nothing pending (one resend may have crossed an ack).
  int after = 0;
  while (auto s = next_update(1s)) {
    EXPECT_EQ(s->uuid, finished->uuid);
    ASSERT_LE(++after, 1);
  }
}

TEST_F(agent_test, kill_task_reports_killed) {
  start();
  run("t1", "trap '' TERM; echo ready; sleep 1000");
  expect_state("t1", task_state::starting);
  expect_state("t1", task_state::running);
  // Kill once the trap is set (bounded poll), so only SIGKILL can end it.
  auto out = work_dir_ + "/frameworks/fw-1/tasks/t1/stdout";
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (read_file(out) != "ready\n") {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(10ms);
  }
  as_master(kill_task{"fw-1", "t1", "agent-1"});
  auto killed = expect_state("t1", task_state::killed);
  EXPECT_NE(killed.message.find("SIGKILL"), std::string::npos) << killed.message;
}

TEST_F(agent_test, kill_of_an_unknown_task_reports_lost) {
  start();
  as_master(kill_task{"fw-1", "nope", "agent-1"});
  auto lost = expect_state("nope", task_state::lost);
  EXPECT_EQ(lost.message, "unknown task");
}

TEST_F(agent_test, shutdown_framework_kills_its_tasks) {
  start();
  run("t1", "sleep 1000");
  run("t2", "sleep 1000");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(next_update());  // STARTING, RUNNING x2
  as_master(shutdown_framework{"fw-1"});
  std::set<std::string> killed;
  for (int i = 0; i < 2; ++i) {
    auto s = next_update();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->state, task_state::killed);
    killed.insert(s->task_id);
  }
  EXPECT_EQ(killed, (std::set<std::string>{"t1", "t2"}));
}

TEST_F(agent_test, task_that_does_not_fit_gets_task_error) {
  start();
  run("big", "true", 3.0);  // the agent has 2 CPUs
  auto err = expect_state("big", task_state::error);
  EXPECT_NE(err.message.find("insufficient resources"), std::string::npos) << err.message;
}

TEST_F(agent_test, invalid_task_id_gets_task_error) {
  start();
  run("../bad", "true");
  auto err = expect_state("../bad", task_state::error);
  EXPECT_NE(err.message.find("not a valid path component"), std::string::npos);
}

TEST_F(agent_test, ping_gets_pong) {
  start();
  bool pong = false;
  self_->request(agent_, 5s, ping_atom::value)
      .receive([&](pong_atom) { pong = true; }, [&](caf::error&) {});
  EXPECT_TRUE(pong);
}

TEST_F(agent_test, commands_from_anyone_but_the_master_are_dropped) {
  start();
  // Another peer (here the test itself) tries to run a command as root and
  // to stop tasks: the agent obeys only the master it registered with.
  run_task foreign;
  foreign.framework.id = "fw-1";
  foreign.task.id = "t-foreign";
  foreign.task.command = "touch " + work_dir_ + "/pwned";
  foreign.task.res = resources::make(0.1, 1 << 20);
  self_->send(agent_, foreign);
  self_->send(agent_, shutdown_framework{"fw-1"});
  // Sent directly, they arrive before the master's relayed command.
  run("t-legit", "true");
  std::vector<std::string> seen;
  for (;;) {
    auto s = next_update();
    ASSERT_TRUE(s);
    seen.push_back(s->task_id);
    if (s->task_id == "t-legit" && is_terminal(s->state)) {
      EXPECT_EQ(s->state, task_state::finished);
      break;
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "t-foreign"), 0);
  EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/pwned"));
}

TEST_F(agent_test, commands_stamped_with_an_older_leader_epoch_are_dropped) {
  // The master leads at epoch 7. Commands from the same master actor but
  // stamped with an older epoch (what a deposed leader's queued messages
  // would carry) are refused; the current epoch's are obeyed.
  start(7);
  auto stale = [&](const std::string& id, int64_t epoch) {
    run_task m;
    m.framework.id = "fw-1";
    m.role = "web";
    m.task.id = id;
    m.task.command = "touch " + work_dir_ + "/" + id;
    m.task.res = resources::make(0.1, 1 << 20);
    m.epoch = epoch;
    as_master(m);
  };
  stale("t-epoch6", 6);
  stale("t-standalone", -1);  // a standalone master's stamp is older too
  as_master(shutdown_framework{"fw-1", 6});
  run_task legit;
  legit.framework.id = "fw-1";
  legit.role = "web";
  legit.task.id = "t-epoch7";
  legit.task.command = "true";
  legit.task.res = resources::make(0.1, 1 << 20);
  legit.epoch = 7;
  as_master(legit);
  std::vector<std::string> seen;
  for (;;) {
    auto s = next_update();
    ASSERT_TRUE(s);
    seen.push_back(s->task_id);
    if (s->task_id == "t-epoch7" && is_terminal(s->state)) {
      EXPECT_EQ(s->state, task_state::finished);  // not killed by the stale shutdown
      break;
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "t-epoch6"), 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "t-standalone"), 0);
  EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/t-epoch6"));
  EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/t-standalone"));
  std::string state;
  self_->request(agent_, 5s, state_atom::value)
      .receive([&](std::string& s) { state = s; }, [](caf::error&) {});
  EXPECT_NE(state.find("\"stale_epoch\":3"), std::string::npos) << state;
  EXPECT_NE(state.find("\"master_epoch\":7"), std::string::npos) << state;
}

TEST_F(agent_test, unexpected_messages_are_dropped) {
  start();
  self_->send(agent_, std::string{"garbage"}, 42);
  self_->send(agent_, heartbeat{1});
  bool pong = false;
  self_->request(agent_, 5s, ping_atom::value)
      .receive([&](pong_atom) { pong = true; }, [&](caf::error&) {});
  EXPECT_TRUE(pong);
  // Asynchronous garbage got no reply (it would have arrived before the pong).
  EXPECT_TRUE(self_->mailbox().empty());
  // A request with garbage gets an error rather than a timeout.
  caf::error err;
  self_->request(agent_, 5s, std::string{"garbage"})
      .receive([](const caf::message&) {}, [&](caf::error& e) { err = e; });
  EXPECT_EQ(err, caf::sec::unexpected_message);
}

TEST_F(agent_test, state_lists_running_and_completed_tasks) {
  start();
  run("t1", "sleep 1000");
  run("t2", "true");
  std::map<std::string, task_state> last;
  while (last["t1"] != task_state::running || last["t2"] != task_state::finished) {
    auto s = next_update();
    ASSERT_TRUE(s);
    last[s->task_id] = s->state;
  }
  std::string json;
  self_->request(agent_, 5s, state_atom::value)
      .receive([&](std::string& s) { json = s; }, [&](caf::error&) {});
  EXPECT_NE(json.find("\"id\":\"agent-1\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"registered\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"rack\":\"r1\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"state\":\"TASK_RUNNING\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"completed_tasks\":[{\"id\":\"t2\""), std::string::npos) << json;
}

TEST_F(agent_test, stop_kills_tasks_and_replies) {
  start();
  run("t1", "sleep 1000");
  expect_state("t1", task_state::starting);
  expect_state("t1", task_state::running);
  bool stopped = false;
  self_->request(agent_, 10s, stop_atom::value)
      .receive([&](stop_atom) { stopped = true; }, [&](caf::error&) {});
  EXPECT_TRUE(stopped);
  expect_state("t1", task_state::killed);
  self_->wait_for(agent_);
  agent_ = nullptr;
}

TEST_F(agent_test, reregisters_with_running_tasks_after_the_remote_master_restarts) {
  // The master lives in another actor system, reached over TCP on loopback.
  config master_cfg;
  caf::actor_system master_sys{master_cfg};
  auto master1 = master_sys.spawn(fake_master, caf::actor_cast<caf::actor>(self_),
                                  std::string{"agent-1"}, int64_t{0}, int64_t{-1});
  auto port = master_sys.middleman().publish(master1, 0, "127.0.0.1", true);
  ASSERT_TRUE(port) << master_sys.render(port.error());
  cfg_.master_host = "127.0.0.1";
  cfg_.master_port = *port;
  agent_ = spawn_agent(sys_, cfg_);
  ASSERT_TRUE(agent_);
  auto reg = expect_registration();
  ASSERT_TRUE(reg);
  EXPECT_TRUE(reg->id.empty());
  master_ = master1;  // commands go through it
  manual_acks = true;
  run("t1", "sleep 1000");
  auto starting = expect_state("t1", task_state::starting);
  // STARTING is acknowledged, RUNNING (sent only then) is not.
  ack(starting);
  auto running = expect_state("t1", task_state::running);
  // The master goes away; a new one takes over the same port.
  master_sys.middleman().unpublish(master1, *port);
  caf::anon_send_exit(master1, caf::exit_reason::user_shutdown);
  auto master2 = master_sys.spawn(fake_master, caf::actor_cast<caf::actor>(self_),
                                  std::string{"agent-1"}, int64_t{0}, int64_t{-1});
  master_ = master2;
  auto port2 = master_sys.middleman().publish(master2, *port, "127.0.0.1", true);
  ASSERT_TRUE(port2) << master_sys.render(port2.error());
  std::optional<reregister_agent> rereg;
  self_->receive([&](reregister_agent& m) { rereg = m; }, caf::after(10s) >> [] {});
  ASSERT_TRUE(rereg);
  EXPECT_EQ(rereg->info.id, "agent-1");
  ASSERT_EQ(rereg->tasks.size(), 1u);
  EXPECT_EQ(rereg->tasks[0].task_id, "t1");
  EXPECT_EQ(rereg->tasks[0].state, task_state::running);
  // The same task in full, so a restarted master can adopt it.
  ASSERT_EQ(rereg->running.size(), 1u);
  EXPECT_EQ(rereg->running[0].framework.id, "fw-1");
  EXPECT_EQ(rereg->running[0].framework.name, "test");
  EXPECT_EQ(rereg->running[0].task.command, "sleep 1000");
  EXPECT_EQ(rereg->running[0].role, "web");
  EXPECT_EQ(rereg->running[0].status.state, task_state::running);
  EXPECT_EQ(rereg->running[0].status.agent_id, "agent-1");
  // The unacknowledged RUNNING reaches the new master right away (long
  // before the 10 s retry interval); the acknowledged STARTING does not.
  auto resent = next_update(5s);
  ASSERT_TRUE(resent);
  EXPECT_EQ(resent->uuid, running.uuid);
  self_->send_exit(agent_, caf::exit_reason::user_shutdown);
  self_->wait_for(agent_);
  agent_ = nullptr;
  caf::anon_send_exit(master2, caf::exit_reason::user_shutdown);
}

TEST_F(agent_test, http_serves_health_and_state) {
  auto port = start_with_http();
  const auto& address = http_address_;
  auto health = http_get(port, "/health");
  EXPECT_NE(health.find("200"), std::string::npos) << health;
  EXPECT_NE(health.find("{\"status\":\"ok\"}"), std::string::npos) << health;
  run("t1", "sleep 1000");
  expect_state("t1", task_state::starting);
  expect_state("t1", task_state::running);
  // The snapshot is published before RUNNING is sent, so it shows the task.
  auto state = http_get(port, "/state");
  EXPECT_NE(state.find("\"id\":\"agent-1\""), std::string::npos) << state;
  EXPECT_NE(state.find("\"http_address\":\"" + address + "\""), std::string::npos) << state;
  EXPECT_NE(state.find("\"state\":\"TASK_RUNNING\""), std::string::npos) << state;
  EXPECT_NE(state.find("\"sandbox\":\"" + work_dir_ + "/frameworks/fw-1/tasks/t1\""),
            std::string::npos)
      << state;
  // Sandbox files, as Mesos' /files/read.
  run("t2", "echo out of t2");
  std::map<std::string, task_state> last;
  while (last["t2"] != task_state::finished) {
    auto s = next_update();
    ASSERT_TRUE(s);
    last[s->task_id] = s->state;
  }
  auto file = http_get(port, "/files/read?path=" + work_dir_ + "/frameworks/fw-1/tasks/t2/stdout");
  EXPECT_NE(file.find("{\"data\":\"out of t2\\n\",\"offset\":0}"), std::string::npos) << file;
  auto outside = http_get(port, "/files/read?path=/etc/hostname");
  EXPECT_NE(outside.find("403"), std::string::npos) << outside;
}

TEST_F(agent_test, several_agents_run_in_one_process) {
  master_ = sys_.spawn(fake_master, caf::actor_cast<caf::actor>(self_), std::string{"agent-1"},
                       int64_t{0}, int64_t{-1});
  std::vector<caf::actor> agents;
  for (int i = 0; i < 3; ++i) {
    auto c = cfg_;
    c.work_dir = work_dir_ + "/agent-" + std::to_string(i);
    agents.push_back(spawn_agent(sys_, c, master_));
    ASSERT_TRUE(expect_registration());
  }
  for (int i = 0; i < 3; ++i) {
    run_task m;
    m.framework.id = "fw-1";
    m.task.id = "t" + std::to_string(i);
    m.task.command = "exit " + std::to_string(i);
    m.task.res = resources::make(0.1, 1 << 20);
    as_master(m, agents[static_cast<size_t>(i)]);
  }
  std::map<std::string, int32_t> codes;
  while (codes.size() < 3) {
    auto s = next_update();
    ASSERT_TRUE(s);
    if (is_terminal(s->state)) codes[s->task_id] = s->exit_code;
  }
  EXPECT_EQ(codes, (std::map<std::string, int32_t>{{"t0", 0}, {"t1", 1}, {"t2", 2}}));
  for (auto& a : agents) {
    self_->send_exit(a, caf::exit_reason::user_shutdown);
    self_->wait_for(a);
  }
}

TEST_F(agent_test, registers_again_when_the_master_stops_pinging) {
  // Pings every 100 ms are promised but never come: after 6 intervals
  // (600 ms) without a ping the agent re-registers with its id.
  master_ = sys_.spawn(fake_master, caf::actor_cast<caf::actor>(self_), std::string{"agent-1"},
                       int64_t{100}, int64_t{-1});
  agent_ = spawn_agent(sys_, cfg_, master_);
  ASSERT_TRUE(expect_registration());
  std::optional<reregister_agent> rereg;
  self_->receive([&](reregister_agent& m) { rereg = m; }, caf::after(10s) >> [] {});
  ASSERT_TRUE(rereg);
  EXPECT_EQ(rereg->info.id, "agent-1");
}

TEST_F(agent_test, pings_keep_the_registration) {
  cfg_.max_missed_pings = 3;
  master_ = sys_.spawn(fake_master, caf::actor_cast<caf::actor>(self_), std::string{"agent-1"},
                       int64_t{100}, int64_t{-1});
  agent_ = spawn_agent(sys_, cfg_, master_);
  ASSERT_TRUE(expect_registration());
  // The master pings every 50 ms for 1 s (3 intervals without a ping would
  // be 300 ms).
  for (int i = 0; i < 20; ++i) {
    self_->send(master_, relay{agent_, caf::make_message(ping_atom::value, int64_t{-1})});
    self_->receive([](reregister_agent&) { FAIL() << "re-registered despite pings"; },
                   caf::after(50ms) >> [] {});
  }
}

TEST_F(agent_test, pings_from_another_peer_or_an_older_epoch_do_not_keep_the_registration) {
  // The master leads at epoch 3 and promised pings every 100 ms. Pings come
  // every 50 ms, but from another peer, or from the master stamped with an
  // older epoch: neither proves the leader alive, so the agent re-registers.
  cfg_.max_missed_pings = 3;
  master_ = sys_.spawn(fake_master, caf::actor_cast<caf::actor>(self_), std::string{"agent-1"},
                       int64_t{100}, int64_t{3});
  agent_ = spawn_agent(sys_, cfg_, master_);
  ASSERT_TRUE(expect_registration());
  bool reregistered = false;
  for (int i = 0; i < 40 && !reregistered; ++i) {
    if (i % 2 == 0)
      self_->request(agent_, 5s, ping_atom::value, int64_t{3})
          .receive([](pong_atom) {}, [](caf::error&) {});
    else
      self_->send(master_, relay{agent_, caf::make_message(ping_atom::value, int64_t{2})});
    self_->receive([&](reregister_agent& m) { reregistered = m.info.id == "agent-1"; },
                   caf::after(50ms) >> [] {});
  }
  EXPECT_TRUE(reregistered);
}

TEST_F(agent_test, registration_is_retried_after_a_refusal) {
  // Refuses the first two registrations, then admits the agent.
  auto observer = caf::actor_cast<caf::actor>(self_);
  auto attempts = std::make_shared<int>(0);
  master_ = sys_.spawn([observer, attempts](caf::event_based_actor* m) -> caf::behavior {
    return {
        [m, observer, attempts](register_agent& r) -> caf::result<agent_registered> {
          m->send(observer, r);
          if (++*attempts <= 2) return make_error(errc::not_leader, "try later");
          return agent_registered{"agent-1", 0};
        },
    };
  });
  std::vector<std::string> registered;
  cfg_.on_registered = [&](const std::string& id, const std::string&) { registered.push_back(id); };
  agent_ = spawn_agent(sys_, cfg_, master_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(expect_registration()) << "attempt " << i;
  // Poll the state (bounded) until the third reply has been processed.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (std::string json; json.find("\"registered\":true") == std::string::npos;) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << json;
    self_->request(agent_, 5s, state_atom::value)
        .receive([&](std::string& s) { json = s; }, [&](caf::error&) {});
  }
  EXPECT_EQ(registered, std::vector<std::string>{"agent-1"});
}

TEST_F(agent_test, launch_failure_reports_task_failed_with_the_reason) {
  // The work directory is a regular file: no sandbox can be created.
  std::filesystem::create_directories(std::filesystem::path(work_dir_).parent_path());
  std::ofstream{work_dir_} << "not a directory";
  start();
  run("t1", "true");
  expect_state("t1", task_state::starting);
  auto failed = expect_state("t1", task_state::failed);
  EXPECT_EQ(failed.reason, "REASON_CONTAINER_LAUNCH_FAILED");
  EXPECT_NE(failed.message.find("cannot create sandbox"), std::string::npos) << failed.message;
  // The resources of the failed task are free again: a task needing all CPUs fits.
  run("t2", "true", 2.0);
  expect_state("t2", task_state::starting);
}

// -- isolation ------------------------------------------------------------------

TEST_F(agent_test,
       with_cgroups_an_oom_killed_task_fails_with_the_memory_reason_and_tasks_report_usage) {
  if (agent::cgroups::detect_system().ver == agent::cgroups::version::none || ::geteuid() != 0)
    GTEST_SKIP() << "needs a usable cgroup hierarchy and root (see cgroups_test)";
  cfg_.isolation = "cgroups";
  auto port = start_with_http();
  auto state = http_get(port, "/state");
  EXPECT_NE(state.find("\"isolation\":{\"mode\":\"cgroups\""), std::string::npos) << state;
  // A task that stays: its live statistics are served.
  run("calm", "sleep 1000");
  expect_state("calm", task_state::starting);
  expect_state("calm", task_state::running);
  auto stats = http_get(port, "/monitor/statistics");
  EXPECT_NE(stats.find("\"task_id\":\"calm\""), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"mem_limit_bytes\":33554432"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"processes\":"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"disk_used_bytes\":"), std::string::npos) << stats;
  state = http_get(port, "/state");
  EXPECT_NE(state.find("\"statistics\":{\"cpus_time_secs\""), std::string::npos) << state;
  // A task over its memory: TASK_FAILED, with the reason and the limit.
  run("hog", "tail /dev/zero");
  expect_state("hog", task_state::starting);
  expect_state("hog", task_state::running);
  auto failed = expect_state("hog", task_state::failed);
  EXPECT_EQ(failed.reason, "REASON_CONTAINER_LIMITATION_MEMORY");
  EXPECT_NE(failed.message.find("memory limit of 32 MiB"), std::string::npos) << failed.message;
  // The neighbour is still running.
  state = http_get(port, "/state");
  EXPECT_NE(state.find("\"id\":\"calm\""), std::string::npos) << state;
  as_master(kill_task{"fw-1", "calm", "agent-1"});
  expect_state("calm", task_state::killed);
}

// -- kills ----------------------------------------------------------------------

TEST_F(agent_test, a_kill_says_task_killing_to_frameworks_that_ask_and_keeps_the_tasks_grace) {
  cfg_.kill_grace = 60s;  // the agent's default: far longer than this test waits
  start();
  auto launch = [&](const std::string& id, std::vector<std::string> capabilities) {
    run_task m;
    m.framework.id = "fw-1";
    m.framework.capabilities = std::move(capabilities);
    m.role = "web";
    m.task.id = id;
    m.task.command = "trap '' TERM; echo ready; sleep 1000";
    m.task.res = resources::make(0.1, 32 << 20);
    m.task.kill_grace_ms = 200;  // its kill policy
    as_master(m);
    expect_state(id, task_state::starting);
    expect_state(id, task_state::running);
    auto out = work_dir_ + "/frameworks/fw-1/tasks/" + id + "/stdout";
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (read_file(out) != "ready\n") ASSERT_LT(std::chrono::steady_clock::now(), deadline);
  };
  launch("asks", {"TASK_KILLING_STATE"});
  as_master(kill_task{"fw-1", "asks", "agent-1"});
  auto killing = expect_state("asks", task_state::killing);
  EXPECT_NE(killing.message.find("SIGKILL after 200ms"), std::string::npos) << killing.message;
  // It ignores SIGTERM: only the SIGKILL after its own 200 ms ends it, long
  // before the agent's 60 s.
  auto killed = expect_state("asks", task_state::killed);
  EXPECT_NE(killed.message.find("SIGKILL"), std::string::npos) << killed.message;
  // A framework that did not ask gets no TASK_KILLING.
  launch("silent", {});
  as_master(kill_task{"fw-1", "silent", "agent-1"});
  expect_state("silent", task_state::killed);
}

// -- sandboxes --------------------------------------------------------------------

TEST_F(agent_test, monitor_statistics_report_each_sandboxs_disk_use) {
  cfg_.isolation = "posix";  // disk use is reported without cgroups too
  auto port = start_with_http();
  run("writer", "head -c 300000 /dev/zero > blob; echo ready; sleep 1000");
  expect_state("writer", task_state::starting);
  expect_state("writer", task_state::running);
  auto out = work_dir_ + "/frameworks/fw-1/tasks/writer/stdout";
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (read_file(out) != "ready\n") ASSERT_LT(std::chrono::steady_clock::now(), deadline);
  auto stats = http_get(port, "/monitor/statistics");
  auto at = stats.find("\"disk_used_bytes\":");
  ASSERT_NE(at, std::string::npos) << stats;
  EXPECT_GE(std::stoll(stats.substr(at + 18)), 300000) << stats;
  EXPECT_EQ(stats.find("cpus_time_secs"), std::string::npos) << "posix has no cgroup statistics";
}

TEST_F(agent_test, a_finished_tasks_sandbox_is_removed_after_the_gc_delay) {
  cfg_.gc_delay = 300ms;
  cfg_.disk_watch_interval = 50ms;
  start();
  run("t1", "echo kept for a while");
  expect_state("t1", task_state::starting);
  expect_state("t1", task_state::running);
  expect_state("t1", task_state::finished);
  auto sandbox = work_dir_ + "/frameworks/fw-1/tasks/t1";
  EXPECT_TRUE(std::filesystem::exists(sandbox + "/stdout"));  // not at once
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::filesystem::exists(sandbox))
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "sandbox not collected";
  // The framework's directory went with its last sandbox.
  while (std::filesystem::exists(work_dir_ + "/frameworks/fw-1"))
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
}

TEST_F(agent_test, a_full_disk_collects_sandboxes_before_their_delay) {
  cfg_.gc_delay = std::chrono::hours{24 * 7};
  cfg_.gc_disk_threshold = 0.0;  // any disk is "too full"
  cfg_.disk_watch_interval = 50ms;
  start();
  run("t1", "echo bye");
  expect_state("t1", task_state::starting);
  expect_state("t1", task_state::running);
  expect_state("t1", task_state::finished);
  run("t2", "sleep 1000");  // running: never collected
  expect_state("t2", task_state::starting);
  expect_state("t2", task_state::running);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::filesystem::exists(work_dir_ + "/frameworks/fw-1/tasks/t1"))
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "sandbox not collected";
  EXPECT_TRUE(std::filesystem::exists(work_dir_ + "/frameworks/fw-1/tasks/t2/stdout"));
}
