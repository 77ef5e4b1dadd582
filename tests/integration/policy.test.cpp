// The compiled policy drives a real master: `agora-master --policy FILE`
// with real agent processes and a framework over TCP. Each case is chosen so
// that the built-in default (weighted DRF without limits, filters, scores or
// locality) would give a different outcome.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>

#include "cluster_fixture.hpp"

namespace agora::test {
namespace {

using protocol::framework_info;
using protocol::resources;

const std::string examples = AGORA_POLICY_EXAMPLES_DIR;

framework_info framework(const std::string& name, std::vector<std::string> roles) {
  framework_info info;
  info.name = name;
  info.roles = std::move(roles);
  return info;
}

resources res(const std::string& text) {
  resources r;
  std::string error;
  EXPECT_TRUE(resources::parse(text, r, error)) << error;
  return r;
}

/// Returns the cpus the master shows as offered to framework `name`.
double offered_cpus(const rapidjson::Document& s, const std::string& name) {
  for (const auto& f : s["frameworks"].GetArray())
    if (std::string(f["name"].GetString()) == name)
      return f["offered_resources"]["cpus"].GetDouble();
  return -1;
}

TEST(policy, quotas_policy_stops_offers_to_a_role_at_its_limit_while_others_get_them) {
  // quotas.policy: dev is limited to 50 cpus and 128 GiB. Three agents of 30
  // cpus and 64 GiB: dev alone is offered a1 whole (30 cpus) and a2 clipped
  // to 20 cpus (its headroom), never a3. Without the limit it would be
  // offered all 90 cpus.
  cluster c{{"--policy=" + examples + "/quotas.policy"}};
  for (int i = 0; i < 3; ++i) c.add_agent("cpus:30;mem:64GiB;disk:10GiB", "rack:r1;zone:z1");
  framework_system fs;
  test_framework dev{fs.sys(), c.master_address(), framework("dev-fw", {"dev"})};
  ASSERT_FALSE(dev.wait_subscribed().empty());
  ASSERT_TRUE(c.wait_state([](const auto& s) { return offered_cpus(s, "dev-fw") == 50.0; }))
      << offered_cpus(c.state(), "dev-fw");
  // research (limit 300 cpus) subscribes: the cycles it triggers give it
  // a2's last 10 cpus and a3's 30, and still nothing more to dev.
  test_framework research{fs.sys(), c.master_address(), framework("res-fw", {"research"})};
  ASSERT_FALSE(research.wait_subscribed().empty());
  ASSERT_TRUE(c.wait_state([](const auto& s) { return offered_cpus(s, "res-fw") == 40.0; }))
      << offered_cpus(c.state(), "res-fw");
  auto s = c.state();
  EXPECT_EQ(offered_cpus(s, "dev-fw"), 50.0);
  EXPECT_STREQ(s["policy"]["name"].GetString(), "quotas");
}

TEST(policy, gpu_isolation_policy_keeps_gpu_agents_for_gpu_frameworks) {
  // One GPU agent and one plain agent. A CPU framework that wants one
  // agent's worth (demand 4 cpus) declines every offer and is offered again
  // at each cycle: the `keep_gpus_free` score puts the plain agent first
  // every time. Without it, agents are tried in rotating order and the GPU
  // agent would come first in every other cycle.
  cluster c{{"--policy=" + examples + "/gpu_isolation.policy"}};
  c.add_agent("cpus:4;mem:4GiB;gpus:1", "rack:r1;zone:z1;gpu_model:a100");
  c.add_agent("cpus:4;mem:4GiB", "rack:r1;zone:z1");
  framework_system fs;
  auto info = framework("cpu-fw", {"batch"});
  info.min_request = res("cpus:1;mem:128MiB");
  info.demand = res("cpus:4");
  test_framework cpu{fs.sys(), c.master_address(), info};
  auto id = cpu.wait_subscribed();
  ASSERT_FALSE(id.empty());
  for (int round = 0; round < 6; ++round) {
    auto offers = cpu.wait_offers();
    ASSERT_EQ(offers.size(), 1u) << "round " << round;
    EXPECT_EQ(offers[0].res.gpus, 0) << "round " << round << ": offered the GPU agent";
    EXPECT_EQ(offers[0].attributes.count("gpu_model"), 0u);
    cpu.pending_offers().clear();
    protocol::filters no_filter;
    no_filter.refuse_ms = 0;
    cpu.send(protocol::decline{id, {offers[0].id}, no_filter});
  }
  // A GPU framework (smallest task needs a GPU) is offered only the GPU agent.
  auto gpu_info = framework("gpu-fw", {"ml"});
  gpu_info.min_request = res("cpus:1;mem:128MiB;gpus:1");
  test_framework gpu{fs.sys(), c.master_address(), gpu_info};
  ASSERT_FALSE(gpu.wait_subscribed().empty());
  auto offers = gpu.wait_offers();
  ASSERT_FALSE(offers.empty());
  for (const auto& o : offers) EXPECT_EQ(o.res.gpus, 1);
}

TEST(policy, rack_local_policy_offers_the_wanted_rack_first_and_falls_back_after_the_wait) {
  // rack_local.policy: a framework with data_racks=r1 is at the `rack`
  // level: only r1 agents. Once r1 is fully offered it waits; after the
  // level's 5 s wait it moves to `zone` and gets r2 (same zone z1).
  cluster c{{"--policy=" + examples + "/rack_local.policy"}};
  c.add_agent("cpus:2;mem:1GiB", "rack:r1;zone:z1");
  c.add_agent("cpus:2;mem:1GiB", "rack:r2;zone:z1");
  framework_system fs;
  auto info = framework("local-fw", {"etl"});
  info.labels["data_racks"] = "r1";
  test_framework fw{fs.sys(), c.master_address(), info};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto first = fw.wait_offers();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attributes.at("rack"), "r1");
  fw.pending_offers().clear();
  auto second = fw.wait_offers(15s);
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attributes.at("rack"), "r2");
  // The wait starts with the first cycle that skipped r2 (at or after t0).
  EXPECT_GE(waited, 4500ms);
}

TEST(policy, the_default_policy_weights_split_prod_and_batch_three_to_one) {
  // The embedded weighted_drf.policy: prod weight 3, batch 1. Eight 1-cpu
  // agents arrive one by one, each going to the role with the smaller
  // share / weight (ties by name): batch, prod, prod, prod, batch (tie at
  // 1/8), prod, prod, prod -> prod 6, batch 2. Unweighted DRF gives 4 and 4.
  cluster c;
  framework_system fs;
  test_framework prod{fs.sys(), c.master_address(), framework("prod-fw", {"prod"})};
  test_framework batch{fs.sys(), c.master_address(), framework("batch-fw", {"batch"})};
  ASSERT_FALSE(prod.wait_subscribed().empty());
  ASSERT_FALSE(batch.wait_subscribed().empty());
  for (int i = 0; i < 8; ++i) c.add_agent("cpus:1;mem:128MiB", "rack:r1");
  EXPECT_TRUE(c.wait_state([](const auto& s) {
    return offered_cpus(s, "prod-fw") == 6.0 && offered_cpus(s, "batch-fw") == 2.0;
  })) << offered_cpus(c.state(), "prod-fw")
      << " / " << offered_cpus(c.state(), "batch-fw");
  auto s = c.state();
  EXPECT_STREQ(s["policy"]["name"].GetString(), "weighted-drf");
  EXPECT_STREQ(s["policy"]["source"].GetString(), "weighted_drf.policy (embedded default)");
}

TEST(policy, a_policy_that_does_not_check_keeps_the_master_from_starting) {
  temp_dir dir;
  std::string path = dir.path() + "/bad.policy";
  std::ofstream(path) << "policy \"bad\" version 1;\nfilter f: agent.free.mem > 4096;\n";
  child_process p;
  ASSERT_TRUE(
      p.start(binary_path("agora-master"), {"--policy=" + path, "--port=0", "--actor-port=0"}));
  auto code = p.wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(p.stderr_text().find(path + ":2:28: error[E0305]"), std::string::npos)
      << p.stderr_text();
  // A missing file is named too.
  child_process q;
  ASSERT_TRUE(q.start(binary_path("agora-master"),
                      {"--policy=" + dir.path() + "/none.policy", "--port=0", "--actor-port=0"}));
  code = q.wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(q.stderr_text().find("none.policy"), std::string::npos) << q.stderr_text();
}

/// Returns the active policy's hash from the master's `GET /policy`.
std::string active_hash(const cluster& c) {
  auto r = http_get("127.0.0.1", c.http_port(), "/policy");
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (!r.ok || doc.HasParseError() || !doc["active"].IsObject()) return "";
  return doc["active"]["hash"].GetString();
}

/// Declines every pending offer without a filter (so its resources are
/// offered again at the next cycle) and returns the cpus declined.
double decline_all(test_framework& fw, const std::string& id) {
  double cpus = 0;
  std::vector<std::string> ids;
  for (auto& o : fw.pending_offers()) {
    cpus += o.res.cpus();
    ids.push_back(o.id);
  }
  fw.pending_offers().clear();
  protocol::filters none;
  none.refuse_ms = 0;
  if (!ids.empty()) fw.send(protocol::decline{id, ids, none});
  return cpus;
}

TEST(policy, apply_changes_the_next_offers_refuses_bad_policies_and_rollback_restores_the_hash) {
  cluster c;
  for (int i = 0; i < 3; ++i) c.add_agent("cpus:30;mem:64GiB", "rack:r1;zone:z1");
  framework_system fs;
  test_framework dev{fs.sys(), c.master_address(), framework("dev-fw", {"dev"})};
  auto id = dev.wait_subscribed();
  ASSERT_FALSE(id.empty());
  // The default policy has no limits: dev is offered all 90 cpus.
  ASSERT_TRUE(c.wait_state([](const auto& s) { return offered_cpus(s, "dev-fw") == 90.0; }));
  const std::string master = "--master=127.0.0.1:" + std::to_string(c.http_port());
  const std::string original = active_hash(c);
  ASSERT_FALSE(original.empty());

  // A policy that does not check: diagnostics, exit 1, the old policy stays.
  temp_dir dir;
  std::ofstream(dir.path() + "/bad.policy")
      << "policy \"bad\" version 1;\nfilter f: agent.free.mem > 4096;\n";
  auto bad = agora_cli({"policy", "apply", dir.path() + "/bad.policy", master});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("bad.policy:2:28: error[E0305]"), std::string::npos) << bad.err;
  EXPECT_EQ(active_hash(c), original);
  auto status = agora_cli({"policy", "status", master});
  EXPECT_EQ(status.status, 0);
  EXPECT_NE(status.out.find("last failed apply: bad.policy"), std::string::npos) << status.out;

  // quotas.policy limits dev to 50 cpus, below the 90 it holds: refused
  // without --force.
  auto refused = agora_cli({"policy", "apply", examples + "/quotas.policy", master});
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  EXPECT_EQ(active_hash(c), original);
  // Offers continue under the old policy: declined resources come back whole.
  ASSERT_FALSE(dev.wait_offers().empty());
  EXPECT_EQ(decline_all(dev, id), 90.0);
  ASSERT_TRUE(c.wait_state([](const auto& s) { return offered_cpus(s, "dev-fw") == 90.0; }));
  dev.wait_offers();

  auto forced = agora_cli({"policy", "apply", examples + "/quotas.policy", master, "--force"});
  ASSERT_EQ(forced.status, 0) << forced.err;
  EXPECT_NE(forced.out.find("applied quotas version 7"), std::string::npos) << forced.out;
  const std::string quotas = active_hash(c);
  EXPECT_NE(quotas, original);
  // The next offers follow the new limits: after declining, dev gets 50.
  dev.pump(300ms);
  decline_all(dev, id);
  ASSERT_TRUE(c.wait_state([](const auto& s) { return offered_cpus(s, "dev-fw") == 50.0; }))
      << offered_cpus(c.state(), "dev-fw");

  auto back = agora_cli({"policy", "rollback", master});
  ASSERT_EQ(back.status, 0) << back.err;
  EXPECT_EQ(active_hash(c), original);
  // /state shows the policy of the last cycle.
  EXPECT_TRUE(
      c.wait_state([&](const auto& s) { return s["policy"]["hash"].GetString() == original; }));
}

TEST(policy, explain_names_the_filter_that_starves_a_framework_and_counts_the_agents) {
  // gpu_isolation.policy: a framework whose smallest task needs an H100 on
  // a cluster of two plain agents and one A100 agent gets no offers;
  // explain says `fits` rejects the two plain agents and `right_model`
  // the A100 one (3 agents in all).
  cluster c{{"--policy=" + examples + "/gpu_isolation.policy"}};
  c.add_agent("cpus:4;mem:4GiB", "rack:r1;zone:z1");
  c.add_agent("cpus:4;mem:4GiB", "rack:r1;zone:z1");
  c.add_agent("cpus:4;mem:4GiB;gpus:1", "rack:r1;zone:z1;gpu_model:a100");
  framework_system fs;
  auto info = framework("ml-fw", {"research"});
  info.min_request = res("cpus:1;mem:128MiB;gpus:1");
  info.labels["gpu_model"] = "h100";
  test_framework ml{fs.sys(), c.master_address(), info};
  auto id = ml.wait_subscribed();
  ASSERT_FALSE(id.empty());
  const std::string master = "--master=127.0.0.1:" + std::to_string(c.http_port());
  auto r = agora_cli({"policy", "explain", master, "--framework=" + id});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("3 considered"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 rejected by filter `fits`"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 rejected by filter `right_model`"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 offerable"), std::string::npos) << r.out;
  // The JSON form adds up, and names the filter for one agent.
  auto state = c.state();
  std::string gpu_agent;
  for (auto& a : state["agents"].GetArray())
    if (a["resources"]["gpus"].GetDouble() > 0) gpu_agent = a["id"].GetString();
  ASSERT_FALSE(gpu_agent.empty());
  auto j = agora_cli(
      {"policy", "explain", master, "--framework=" + id, "--agent=" + gpu_agent, "--json"});
  ASSERT_EQ(j.status, 0) << j.err;
  rapidjson::Document doc;
  doc.Parse(j.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << j.out;
  auto& agents = doc["agents"];
  uint64_t sum = agents["inactive"].GetUint64() + agents["no_usable_resources"].GetUint64() +
                 agents["wrong_locality_level"].GetUint64() + agents["declined"].GetUint64() +
                 agents["smaller_than_smallest_task"].GetUint64() + agents["offerable"].GetUint64();
  for (auto& f : agents["rejected_by_filter"].GetObject()) sum += f.value.GetUint64();
  EXPECT_EQ(sum, agents["considered"].GetUint64());
  EXPECT_STREQ(doc["agent"]["rejected_by"].GetString(), "right_model");
  EXPECT_FALSE(doc["agent"]["rules"]["right_model"].GetBool());
  // Unknown ids are 404s: exit 1 with the reason.
  auto unknown = agora_cli({"policy", "explain", master, "--framework=nope"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("no framework 'nope'"), std::string::npos) << unknown.err;
}

TEST(policy, malformed_operator_requests_get_4xx_json_errors_and_change_nothing) {
  cluster c;
  // The allocator publishes the policy as it starts, just after the master
  // answers HTTP.
  std::string original;
  ASSERT_TRUE(wait_until(
      [&] {
        original = active_hash(c);
        return !original.empty();
      },
      10s));
  struct bad {
    const char* method;
    const char* path;
    std::string body;
    int status;
  };
  const std::vector<bad> cases = {
      {"POST", "/policy", "not json", 400},
      {"POST", "/policy", "[1, 2]", 400},
      {"POST", "/policy", "{}", 400},
      {"POST", "/policy", R"({"source": 42})", 400},
      {"POST", "/policy", R"({"source": "policy \"x\" version 1;", "force": "yes"})", 400},
      {"POST", "/policy", R"({"source": "policy \"x\" version 1;", "shadow_seconds": -1})", 400},
      {"POST", "/policy", R"({"source": "policy \"x\" version 1;", "shadow_seconds": 1e300})", 400},
      {"POST", "/policy", R"({"source": "policy \"x\" version 1;", "name": "dir/"})", 400},
      {"POST", "/policy", R"({"source": "policy \"x\" version 1;\nfilter f: nonsense;"})", 422},
      {"POST", "/policy", R"({"source": "policy \"x\" version 1;\nimport \"/etc/passwd\";"})", 422},
      {"GET", "/policy/explain", "", 400},
      {"GET", "/policy/explain?framework=none", "", 404},
      {"POST", "/policy/rollback", "", 409},  // Nothing to roll back to.
  };
  for (auto& b : cases) {
    auto r = http_request(b.method, "127.0.0.1", c.http_port(), b.path, b.body);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, b.status) << b.method << " " << b.path << " " << b.body << ": " << r.body;
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    EXPECT_TRUE(!doc.HasParseError() && doc.IsObject() && doc.HasMember("error"))
        << b.path << " " << b.body << ": " << r.body;
  }
  // The import of a file outside the policy's folder never echoes it.
  auto r = http_post("127.0.0.1", c.http_port(), "/policy",
                     R"({"source": "policy \"x\" version 1;\nimport \"/etc/passwd\";"})");
  EXPECT_EQ(r.body.find("root:"), std::string::npos) << r.body;
  EXPECT_EQ(active_hash(c), original);
  // Bad flags of the CLI name the flag and exit 2.
  auto flag = agora_cli({"policy", "apply", "--shadow=soon", "x.policy"});
  EXPECT_EQ(flag.status, 2);
  EXPECT_NE(flag.err.find("--shadow"), std::string::npos) << flag.err;
  auto missing = agora_cli({"policy", "explain", "--master=127.0.0.1:1"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("--framework"), std::string::npos) << missing.err;
}

TEST(policy, a_recorded_trace_replays_in_the_simulator) {
  // A master records agents, frameworks and finished tasks; `agora policy
  // sim --trace` replays them: the task launched and finished in the trace
  // launches and finishes in the simulation.
  temp_dir dir;
  const std::string trace = dir.path() + "/trace.jsonl";
  cluster c{{"--record-trace=" + trace}};
  c.add_agent("cpus:2;mem:1GiB", "rack:r1;zone:z1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("traced", {"dev"})};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{"", {offers[0].id}, {make_task("t1", "sleep 0.2", 0.5)}, {0}});
  ASSERT_TRUE(fw.wait_status("t1", protocol::task_state::finished));
  std::string text;
  ASSERT_TRUE(wait_until(
      [&] {
        std::ifstream in(trace);
        text.assign(std::istreambuf_iterator<char>(in), {});
        return text.find("\"ev\":\"request\"") != std::string::npos;
      },
      10s))
      << text;
  EXPECT_NE(text.find("\"ev\":\"agent_add\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"ev\":\"framework_add\""), std::string::npos) << text;
  std::ofstream(dir.path() + "/cluster.json") << "{\"agents\": []}";
  auto sim = agora_cli({"policy", "sim", "--cluster=" + dir.path() + "/cluster.json",
                        "--trace=" + trace, "--policy=" + examples + "/weighted_drf.policy",
                        "--until=1min", "--cycle=100ms", "--seed=1", "--out=" + dir.path() + "/out",
                        "--assert=tasks_launched == 1", "--assert=tasks_finished == 1"});
  EXPECT_EQ(sim.status, 0) << sim.out << sim.err;
}

TEST(policy, a_shadow_candidate_reports_divergence_and_is_installed_after_its_period) {
  cluster c;
  for (int i = 0; i < 2; ++i) c.add_agent("cpus:30;mem:64GiB", "rack:r1;zone:z1");
  framework_system fs;
  test_framework dev{fs.sys(), c.master_address(), framework("dev-fw", {"dev"})};
  auto id = dev.wait_subscribed();
  ASSERT_FALSE(id.empty());
  ASSERT_FALSE(dev.wait_offers().empty());
  const std::string master = "--master=127.0.0.1:" + std::to_string(c.http_port());
  const std::string original = active_hash(c);
  // Shadow quotas.policy (dev limited to 50 of 60 cpus) for 3 s, forced.
  auto shadow =
      agora_cli({"policy", "apply", examples + "/quotas.policy", master, "--shadow=3s", "--force"});
  ASSERT_EQ(shadow.status, 0) << shadow.err;
  EXPECT_NE(shadow.out.find("shadowing"), std::string::npos) << shadow.out;
  EXPECT_EQ(active_hash(c), original);  // Not acting yet.
  // Declining makes a cycle in which both policies offer dev both agents:
  // the default both whole, quotas.policy the second clipped to 20 cpus. Of
  // the three distinct offers, two differ: divergence 2/3.
  decline_all(dev, id);
  bool diverged = wait_until(
      [&] {
        auto r = http_get("127.0.0.1", c.http_port(), "/policy");
        rapidjson::Document doc;
        doc.Parse(r.body.c_str());
        return r.ok && doc["shadow"].IsObject() && doc["shadow"]["cycles"].GetUint64() > 0 &&
               doc["shadow"]["divergence_ratio"].GetDouble() > 0;
      },
      10s);
  EXPECT_TRUE(diverged);
  EXPECT_TRUE(
      wait_until([&] { return active_hash(c) != original && !active_hash(c).empty(); }, 15s))
      << "the shadow candidate was not installed after its period";
}

}  // namespace
}  // namespace agora::test
