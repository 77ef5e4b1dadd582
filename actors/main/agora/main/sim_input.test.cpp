// The inputs of `agora policy sim`: clusters, traces and synthetic
// workloads, good and hostile; every error names the file (and line for
// JSON lines) and the field.

#include "agora/main/sim_input.hpp"

#include <gtest/gtest.h>

#include <set>

namespace agora::main::sim {
namespace {

constexpr int64_t gib = int64_t{1} << 30;

/// Returns the error of parsing `text` as a trace named `trace.jsonl`.
std::string trace_error(const std::string& text) {
  std::vector<input_event> events;
  std::string error;
  EXPECT_FALSE(parse_trace("trace.jsonl", text, events, error)) << text;
  return error;
}

std::string cluster_error(const std::string& text) {
  cluster_def c;
  std::string error;
  EXPECT_FALSE(parse_cluster("cluster.json", text, c, error)) << text;
  return error;
}

std::string synthetic_error(const std::string& text) {
  workload_def w;
  std::string error;
  EXPECT_FALSE(parse_synthetic("load.json", text, w, error)) << text;
  return error;
}

const std::string good_framework =
    R"({"id": "etl-1", "role": "prod/etl", "arrivals_per_min": 6, "tasks": [1, 5],
        "res": {"cpus": 2, "mem": "8GiB"}, "duration": ["30s", "300s"]})";

TEST(sim_input, generated_cluster_names_agents_racks_and_zones) {
  cluster_def c;
  std::string error;
  ASSERT_TRUE(parse_cluster("cluster.json",
                            R"({"racks": 3, "agents_per_rack": 2,
                                "agent": {"cpus": 64, "mem": "256GiB", "disk": "1TiB", "gpus": 2}})",
                            c, error))
      << error;
  ASSERT_EQ(c.agents.size(), 6u);
  // Agent i is in rack (i - 1) / 2 + 1; rack K in zone (K + 1) / 2.
  EXPECT_EQ(c.agents[0].id, "a1");
  EXPECT_EQ(c.agents[0].attrs.at("rack"), "r1");
  EXPECT_EQ(c.agents[0].attrs.at("zone"), "z1");
  EXPECT_EQ(c.agents[3].id, "a4");
  EXPECT_EQ(c.agents[3].attrs.at("rack"), "r2");
  EXPECT_EQ(c.agents[3].attrs.at("zone"), "z1");
  EXPECT_EQ(c.agents[5].attrs.at("rack"), "r3");
  EXPECT_EQ(c.agents[5].attrs.at("zone"), "z2");
  // CPUs and GPUs in thousandths, memory and disk in bytes.
  EXPECT_EQ(c.agents[5].res[0], 64000);
  EXPECT_EQ(c.agents[5].res[1], 256 * gib);
  EXPECT_EQ(c.agents[5].res[2], 1024 * gib);
  EXPECT_EQ(c.agents[5].res[3], 2000);
}

TEST(sim_input, listed_cluster_keeps_ids_attributes_and_booleans) {
  cluster_def c;
  std::string error;
  ASSERT_TRUE(parse_cluster("cluster.json", R"({"agents": [
      {"id": "a1", "res": {"cpus": 1.5, "mem": "512MiB"}, "attrs": {"rack": "r1", "ssd": true}},
      {"id": "b-2", "res": {"cpus": 8, "mem": "1GiB"}}]})",
                            c, error))
      << error;
  ASSERT_EQ(c.agents.size(), 2u);
  EXPECT_EQ(c.agents[0].res[0], 1500);
  EXPECT_EQ(c.agents[0].res[1], 512 << 20);
  EXPECT_EQ(c.agents[0].attrs.at("ssd"), "true");
  EXPECT_EQ(c.agents[1].id, "b-2");
  EXPECT_TRUE(c.agents[1].attrs.empty());
}

TEST(sim_input, cluster_errors_name_the_field) {
  EXPECT_EQ(
      cluster_error(R"({"racks": 2, "agents_per_rack": 2, "agent": {"cpus": 4, "mem": 256}})"),
      "cluster.json: agent.mem: a bare number is ambiguous; write e.g. \"256GiB\" or "
      "\"512MiB\"");
  EXPECT_EQ(cluster_error(R"({"agents": [{"id": "a1", "res": {"cpus": 1}},
                                         {"id": "a2", "res": {"cpus": "4"}}]})"),
            "cluster.json: agents[1].res.cpus: expected a number from 0 to 1000000 (plain, "
            "without a unit)");
  EXPECT_EQ(cluster_error(R"({"agents": [{"id": "a1", "res": {"cpus": 1}},
                                         {"id": "a1", "res": {"cpus": 1}}]})"),
            "cluster.json: agents[1].id: agent 'a1' appears twice");
  EXPECT_EQ(cluster_error(R"({"agents": [{"id": "a 1", "res": {"cpus": 1}}]})"),
            "cluster.json: agents[0].id: 'a 1' is not an id (letters, digits, '_', '-', '.', ':')");
  EXPECT_EQ(cluster_error(R"({"agents": [{"id": "a1", "res": {"fpgas": 1}}]})"),
            "cluster.json: agents[0].res.fpgas: unknown resource (known: cpus, mem, disk, gpus)");
  EXPECT_EQ(cluster_error(R"({"agents": [{"id": "a1", "res": {}, "attr": {}}]})"),
            "cluster.json: agents[0].attr: unknown field");
  EXPECT_EQ(cluster_error(R"({"racks": 100000, "agents_per_rack": 100, "agent": {"cpus": 1}})"),
            "cluster.json: racks x agents_per_rack: more than 100000 agents");
  EXPECT_EQ(cluster_error(R"({"racks": 2.5, "agents_per_rack": 1, "agent": {}})"),
            "cluster.json: racks: expected a whole number from 1 to 100000");
  EXPECT_EQ(cluster_error(R"({"racks": 1, "agents_per_rack": 1, "agent": {"gpus": 1.5}})"),
            "cluster.json: agent.gpus: GPUs are whole numbers");
  EXPECT_EQ(cluster_error(R"({"racks": 1, "agents_per_rack": 1, "agent": {"mem": "-1GiB"}})"),
            "cluster.json: agent.mem: bad number '-1'");
  // Syntax errors are placed by line and column.
  EXPECT_EQ(cluster_error("{\n  \"racks\": 2,\n  \"agents_per_rack\" 2\n}"),
            "cluster.json:3:21: not valid JSON: Missing a colon after a name of object member.");
  EXPECT_EQ(cluster_error("[1, 2]"),
            "cluster.json: the document: expected an object, not an array");
}

TEST(sim_input, trace_reads_every_event_kind) {
  std::vector<input_event> events;
  std::string error;
  ASSERT_TRUE(parse_trace("trace.jsonl", R"(
{"t":"0s","ev":"agent_add","id":"a1","res":{"cpus":64,"mem":"256GiB"},"attrs":{"rack":"r1","zone":"z1"}}
{"t":"2s","ev":"framework_add","id":"etl-1","role":"prod/etl","labels":{"data_racks":"r1,r3"}}

{"t":"2s","ev":"request","fw":"etl-1","tasks":40,"res":{"cpus":2,"mem":"8GiB"},"duration":"183s"}
{"t":"9.5s","ev":"agent_remove","id":"a1"}
{"t":"1min","ev":"framework_remove","id":"etl-1"}
)",
                          events, error))
      << error;
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].kind, event_kind::agent_add);
  EXPECT_EQ(events[0].labels.at("zone"), "z1");
  EXPECT_EQ(events[0].origin, "trace.jsonl:2");
  EXPECT_EQ(events[1].role, "prod/etl");
  EXPECT_EQ(events[1].labels.at("data_racks"), "r1,r3");
  EXPECT_EQ(events[2].origin, "trace.jsonl:5");  // Blank lines count.
  EXPECT_EQ(events[2].tasks, 40);
  EXPECT_EQ(events[2].res[0], 2000);
  EXPECT_EQ(events[2].res[1], 8 * gib);
  EXPECT_EQ(events[2].duration, 183000);
  EXPECT_EQ(events[3].t, 9500);
  EXPECT_EQ(events[4].kind, event_kind::framework_remove);
  EXPECT_EQ(events[4].t, 60000);
}

TEST(sim_input, trace_errors_name_file_line_and_field) {
  const std::string ok = R"({"t":"0s","ev":"framework_add","id":"f"})";
  EXPECT_EQ(
      trace_error(
          ok + "\n" +
          R"({"t":"1s","ev":"request","fw":"f","tasks":1,"res":{"cpus":1,"mem":8},"duration":"1s"})"),
      "trace.jsonl:2: res.mem: a bare number is ambiguous; write e.g. \"256GiB\" or \"512MiB\"");
  EXPECT_EQ(trace_error(ok + "\n\n" + R"({"t":5,"ev":"agent_remove","id":"a1"})"),
            "trace.jsonl:3: t: a bare number has no unit; write e.g. \"30s\" or \"5min\"");
  EXPECT_EQ(trace_error(R"({"t":"1s","ev":"agent_explode","id":"a1"})"),
            "trace.jsonl:1: ev: unknown event 'agent_explode' (known: agent_add, agent_remove, "
            "framework_add, framework_remove, request)");
  EXPECT_EQ(trace_error(
                R"({"t":"1s","ev":"request","fw":"f","tasks":0,"res":{"cpus":1},"duration":"1s"})"),
            "trace.jsonl:1: tasks: expected a whole number from 1 to 1000000");
  EXPECT_EQ(trace_error(R"({"t":"1s","ev":"request","fw":"f","tasks":1,"res":{"cpus":1}})"),
            "trace.jsonl:1: duration: missing");
  EXPECT_EQ(trace_error(R"({"t":"1s","ev":"request","fw":"f","tasks":1,"res":{},"duration":"1s"})"),
            "trace.jsonl:1: res: a task needs some resource");
  EXPECT_EQ(trace_error(R"({"t":"1s","ev":"framework_add","id":"f","role":"prod//x"})"),
            "trace.jsonl:1: role: 'prod//x' is not a role (`*` or names separated by '/', e.g. "
            "prod/etl)");
  EXPECT_EQ(trace_error(R"({"t":"1s","ev":"agent_remove","id":"a1","extra":1})"),
            "trace.jsonl:1: extra: unknown field");
  EXPECT_EQ(trace_error(R"({"t":"400d","ev":"agent_remove","id":"a1"})"),
            "trace.jsonl:1: t: '400d' is out of range (0 to 365d)");
  EXPECT_EQ(trace_error(R"({"t":"1e300d","ev":"agent_remove","id":"a1"})"),
            "trace.jsonl:1: t: '1e300d' is out of range (0 to 365d)");
  EXPECT_EQ(trace_error(ok + "\n{\"t\":\"1s\",\"ev\":"),
            "trace.jsonl:2:16: not valid JSON: Invalid value.");
  EXPECT_EQ(trace_error("[]"), "trace.jsonl:1: the document: expected an object, not an array");
}

TEST(sim_input, hostile_json_is_an_error_not_a_crash) {
  // Deep nesting: the iterative parser does not recurse.
  std::string deep(200000, '[');
  EXPECT_NE(trace_error(deep).find("trace.jsonl:1:"), std::string::npos);
  EXPECT_NE(cluster_error(std::string(200000, '{')).find("not valid JSON"), std::string::npos);
  std::string nested = R"({"t":"0s","ev":"agent_add","id":"a1","res":{"cpus":)" +
                       std::string(100000, '[') + std::string(100000, ']') + "}}";
  EXPECT_EQ(trace_error(nested), "trace.jsonl:1: res.cpus: expected a number from 0 to 1000000");
  // Numbers out of range, NaN spellings, embedded NULs, huge strings.
  EXPECT_NE(trace_error(R"({"t":"0s","ev":"agent_add","id":"a1","res":{"cpus":1e400}})")
                .find("trace.jsonl:1:"),
            std::string::npos);
  EXPECT_NE(trace_error(R"({"t":"0s","ev":"agent_add","id":"a1","res":{"cpus":NaN}})")
                .find("not valid JSON"),
            std::string::npos);
  EXPECT_EQ(trace_error(R"({"t":"0s","ev":"agent_add","id":"a1","res":{"cpus":-1}})"),
            "trace.jsonl:1: res.cpus: expected a number from 0 to 1000000");
  EXPECT_EQ(trace_error(std::string(R"({"t":"0s","ev":"agent_remove","id":"a\u0000b"})")),
            "trace.jsonl:1: id: 'a" + std::string(1, '\0') +
                "b' is not an id (letters, digits, '_', '-', '.', ':')");
  EXPECT_EQ(trace_error(R"({"t":"0s","ev":"framework_add","id":"f","labels":{"team":")" +
                        std::string(5000, 'x') + "\"}}"),
            "trace.jsonl:1: labels.team: longer than 4096 characters");
  EXPECT_EQ(
      trace_error(
          R"({"t":"0s","ev":"request","fw":"f","tasks":1e18,"res":{"cpus":1},"duration":"1s"})"),
      "trace.jsonl:1: tasks: expected a whole number from 1 to 1000000");
  EXPECT_EQ(synthetic_error(R"({"frameworks": [{"id": "f", "arrivals_per_min": 1e9,
                               "tasks": 1, "res": {"cpus": 1}, "duration": "1s"}]})"),
            "load.json: frameworks[0].arrivals_per_min: expected a number from 0 to 1000000");
}

TEST(sim_input, synthetic_workload_reads_ranges_and_fixed_values) {
  workload_def w;
  std::string error;
  ASSERT_TRUE(parse_synthetic("load.json", R"({"frameworks": [)" + good_framework + R"(,
      {"id": "web", "arrivals_per_min": 0.5, "tasks": 3, "res": {"cpus": 1}, "duration": "1min"}]})",
                              w, error))
      << error;
  ASSERT_EQ(w.frameworks.size(), 2u);
  EXPECT_EQ(w.frameworks[0].role, "prod/etl");
  EXPECT_EQ(w.frameworks[0].tasks_min, 1);
  EXPECT_EQ(w.frameworks[0].tasks_max, 5);
  EXPECT_EQ(w.frameworks[0].duration_min, 30000);
  EXPECT_EQ(w.frameworks[0].duration_max, 300000);
  EXPECT_EQ(w.frameworks[1].role, "*");
  EXPECT_EQ(w.frameworks[1].tasks_min, 3);
  EXPECT_EQ(w.frameworks[1].tasks_max, 3);
  EXPECT_EQ(w.frameworks[1].duration_max, 60000);
}

TEST(sim_input, synthetic_errors_name_the_field) {
  EXPECT_EQ(synthetic_error(R"({"frameworks": [{"id": "f", "arrivals_per_min": 1, "tasks": [5, 1],
                               "res": {"cpus": 1}, "duration": "1s"}]})"),
            "load.json: frameworks[0].tasks: MIN is larger than MAX");
  EXPECT_EQ(synthetic_error(R"({"frameworks": [{"id": "f", "arrivals_per_min": 1, "tasks": 1,
                               "res": {"cpus": 1}, "duration": ["1s", 30]}]})"),
            "load.json: frameworks[0].duration[1]: a bare number has no unit; write e.g. \"30s\" "
            "or \"5min\"");
  EXPECT_EQ(synthetic_error(R"({"frameworks": [{"id": "f", "tasks": 1, "res": {"cpus": 1},
                               "duration": "1s"}]})"),
            "load.json: frameworks[0].arrivals_per_min: missing");
  EXPECT_EQ(synthetic_error(R"({"frameworks": [)" + good_framework + "," + good_framework + "]}"),
            "load.json: frameworks[1].id: framework 'etl-1' appears twice");
  EXPECT_EQ(synthetic_error(R"({"framework": []})"), "load.json: frameworks: missing");
}

TEST(sim_input, generated_workload_is_a_function_of_the_seed) {
  workload_def w;
  std::string error;
  ASSERT_TRUE(
      parse_synthetic("load.json", R"({"frameworks": [)" + good_framework + "]}", w, error));
  std::vector<input_event> a, b, c;
  const millis hour = 3600000;
  ASSERT_TRUE(generate_workload(w, hour, 7, a, error));
  ASSERT_TRUE(generate_workload(w, hour, 7, b, error));
  ASSERT_TRUE(generate_workload(w, hour, 8, c, error));
  auto key = [](const std::vector<input_event>& v) {
    std::vector<std::tuple<millis, int64_t, millis>> k;
    for (auto& e : v) k.emplace_back(e.t, e.tasks, e.duration);
    return k;
  };
  EXPECT_EQ(key(a), key(b));
  EXPECT_NE(key(a), key(c));
  // A framework_add at 0, then Poisson requests: 6 per minute is 360 per hour
  // in expectation (standard deviation 19; 5 sigma either way).
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a[0].kind, event_kind::framework_add);
  EXPECT_EQ(a[0].role, "prod/etl");
  size_t requests = a.size() - 1;
  EXPECT_GT(requests, 265u);
  EXPECT_LT(requests, 455u);
  std::set<int64_t> counts;
  for (size_t i = 1; i < a.size(); ++i) {
    EXPECT_EQ(a[i].kind, event_kind::request);
    EXPECT_LE(a[i - 1].t, a[i].t);
    EXPECT_LT(a[i].t, hour);
    EXPECT_GE(a[i].tasks, 1);
    EXPECT_LE(a[i].tasks, 5);
    EXPECT_GE(a[i].duration, 30000);
    EXPECT_LE(a[i].duration, 300000);
    EXPECT_EQ(a[i].res[0], 2000);
    counts.insert(a[i].tasks);
  }
  EXPECT_EQ(counts.size(), 5u);  // Every count in [1, 5] is drawn.
}

TEST(sim_input, generated_workload_refuses_too_many_events) {
  workload_def w;
  synthetic_framework f;
  f.id = "flood";
  f.arrivals_per_min = 1e6;
  f.res[0] = 1000;
  w.frameworks.push_back(f);
  std::vector<input_event> events;
  std::string error;
  EXPECT_FALSE(generate_workload(w, millis{365} * 24 * 3600 * 1000, 1, events, error));
  EXPECT_NE(error.find("more than 1000000 events"), std::string::npos) << error;
}

TEST(sim_input, events_are_checked_against_what_is_present_in_time_order) {
  cluster_def c;
  c.agents.push_back({"a1", {}, {}});
  auto event = [](millis t, event_kind k, std::string id, std::string origin) {
    input_event e;
    e.t = t;
    e.kind = k;
    e.id = std::move(id);
    e.origin = std::move(origin);
    return e;
  };
  std::string error;
  // A request before its framework_add (in time, not in file order).
  std::vector<input_event> events = {event(5, event_kind::framework_add, "f", "t:1"),
                                     event(2, event_kind::request, "f", "t:2")};
  EXPECT_FALSE(check_events(c, events, 10, error));
  EXPECT_EQ(error, "t:2: fw: no framework 'f' is present (a framework_add must come first)");
  // The same, but the request is after --until: it never happens.
  events[1].t = 20;
  EXPECT_TRUE(check_events(c, events, 10, error)) << error;
  events = {event(1, event_kind::agent_add, "a1", "t:1")};
  EXPECT_FALSE(check_events(c, events, 10, error));
  EXPECT_EQ(error, "t:1: id: agent 'a1' is already present (remove it first)");
  events = {event(1, event_kind::agent_remove, "a1", "t:1"),
            event(2, event_kind::agent_remove, "a1", "t:2")};
  EXPECT_FALSE(check_events(c, events, 10, error));
  EXPECT_EQ(error, "t:2: id: no agent 'a1' is present");
  events = {event(1, event_kind::framework_remove, "g", "t:7")};
  EXPECT_FALSE(check_events(c, events, 10, error));
  EXPECT_EQ(error, "t:7: id: no framework 'g' is present");
}

TEST(sim_input, roles_and_times) {
  EXPECT_TRUE(valid_role("*"));
  EXPECT_TRUE(valid_role("prod"));
  EXPECT_TRUE(valid_role("prod/etl-2.x"));
  EXPECT_FALSE(valid_role(""));
  EXPECT_FALSE(valid_role("/prod"));
  EXPECT_FALSE(valid_role("prod/"));
  EXPECT_FALSE(valid_role("prod/../x"));
  EXPECT_FALSE(valid_role("prod etl"));
  millis t = 0;
  std::string error;
  EXPECT_TRUE(parse_time("1.5s", t, error));
  EXPECT_EQ(t, 1500);
  EXPECT_TRUE(parse_time("2h", t, error));
  EXPECT_EQ(t, 7200000);
  EXPECT_FALSE(parse_time("5", t, error));
  EXPECT_FALSE(parse_time("-1s", t, error));
}

}  // namespace
}  // namespace agora::main::sim
