// Tests of the back end: disassembly goldens for the examples, program hash
// stability, runtime error semantics, and differential tests (random
// well-typed policies over random cluster states: the VM and the AST oracle
// agree exactly, errors included). Seeds are fixed, so failures reproduce.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "agora/policy/compiler.hpp"
#include "agora/policy/oracle.hpp"
#include "agora/policy/tool.hpp"
#include "agora/policy/tool_disasm.hpp"
#include "agora/policy/vm.hpp"

namespace agora::policy {
namespace {

const std::string examples = AGORA_POLICY_EXAMPLES_DIR;
const std::string golden_dir = std::string(AGORA_POLICY_GOLDEN_DIR) + "/disasm";

std::unique_ptr<loaded_policy> compile_text(const std::string& text, const schema* s = nullptr) {
  auto out = std::make_unique<loaded_policy>();
  out->source.emplace("test.policy", text);
  out->checked = check_policy(*out->source, s);
  if (out->checked.ok()) out->compiled = compile(out->checked, *out->source, s);
  return out;
}

std::string listing(const std::string& name) {
  auto p = load_policy(examples + "/" + name);
  std::ostringstream out, err;
  run_policy_disasm({"disasm", examples + "/" + name}, out, err);
  return out.str() + err.str();
}

class disasm_golden : public ::testing::TestWithParam<const char*> {};

TEST_P(disasm_golden, matches) {
  std::string name = GetParam();
  auto text = listing(name);
  auto path = golden_dir + "/" + name.substr(0, name.find('.')) + ".disasm";
  // The listing names files by the path given; make it independent of the checkout.
  for (size_t at; (at = text.find(examples + "/")) != std::string::npos;)
    text.replace(at, examples.size() + 1, "");
  if (std::getenv("AGORA_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << text;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing " << path << " (run with AGORA_UPDATE_GOLDEN=1)";
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(want.str(), text) << "regenerate with AGORA_UPDATE_GOLDEN=1 if intended";
}

INSTANTIATE_TEST_SUITE_P(examples, disasm_golden,
                         ::testing::Values("drf.policy", "weighted_drf.policy", "quotas.policy",
                                           "rack_local.policy", "binpack.policy", "spread.policy",
                                           "gpu_isolation.policy", "observability.policy"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n.substr(0, n.find('.'));
                         });

TEST(tool_disasm, verb_exit_codes) {
  std::ostringstream out, err;
  EXPECT_EQ(run_policy_tool({"disasm", examples + "/drf.policy"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("hash 3ac5b27da2916a99"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("FITS"), std::string::npos);
  std::ostringstream out2, err2;
  auto path = ::testing::TempDir() + "/vm_test_unsupported.policy";
  std::ofstream(path)
      << "policy \"u\" version 1;\n"
         "filter f: agent.hostname in [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\"];\n";
  EXPECT_EQ(run_policy_tool({"disasm", path}, out2, err2), 1);
  EXPECT_NE(out2.str().find("E0901"), std::string::npos);
  std::ostringstream out3, err3;
  EXPECT_EQ(run_policy_tool({"disasm"}, out3, err3), 2);
  EXPECT_EQ(run_policy_tool({"disasm", "a", "--bogus"}, out3, err3), 2);
}

TEST(program_hash, stable_and_sensitive) {
  auto a = load_policy(examples + "/drf.policy");
  auto b = load_policy(examples + "/drf.policy");
  ASSERT_TRUE(a->compiled.ok());
  EXPECT_EQ(a->compiled.prog->hash(), b->compiled.prog->hash());
  EXPECT_EQ(a->compiled.prog->hash_hex().size(), 16u);
  // Pinned: the hash must not depend on the process, platform or build; change
  // it only together with the bytecode format (the "AGPB4" tag).
  EXPECT_EQ(a->compiled.prog->hash_hex(), "3ac5b27da2916a99");
  auto c = compile_text(
      "policy \"drf\" version 1; use std.fairness;\n"
      "filter f: fits(framework.min_request, agent.free);\n");
  auto d = compile_text(
      "policy \"drf\" version 1; use std.fairness;\n"
      "filter f: fits(agent.free, framework.min_request);\n");
  ASSERT_TRUE(c->compiled.ok());
  ASSERT_TRUE(d->compiled.ok());
  EXPECT_NE(c->compiled.prog->hash(), d->compiled.prog->hash());
}

eval_input small_cluster() {
  eval_input in;
  in.cluster.total = {10, 100, 0, 0};
  role_view role;
  role.name = role.path = "a";
  role.allocated = {5, 10, 0, 0};
  in.roles.push_back(role);
  framework_view fw;
  fw.id = "f1";
  fw.allocated = {5, 10, 0, 0};
  fw.min_request = {1, 1, 0, 0};
  in.frameworks.push_back(fw);
  agent_view ag;
  ag.id = ag.hostname = "a1";
  ag.total = {4, 8, 0, 0};
  ag.free = {2, 8, 0, 0};
  ag.used = {2, 0, 0, 0};
  in.agents.push_back(ag);
  return in;
}

TEST(vm_semantics, errors_are_values_and_counted) {
  // cpus 2 free, `agent.used.mem` is 0: the score divides by zero (error,
  // counts 0), the second filter errs (rejects).
  auto p = compile_text(
      "policy \"t\" version 1; use std.fairness;\n"
      "order frameworks by dominant_share(framework) asc, framework.id asc;\n"
      "filter fits: fits(framework.min_request, agent.free);\n"
      "score s weight 2: agent.used.mem / agent.used.mem;\n"
      "score t weight 3: agent.used.cpus / agent.total.cpus;\n"
      "filter g: agent.free.mem / agent.used.mem > 1;\n");
  ASSERT_TRUE(p->compiled.ok()) << render_all(p->checked.diagnostics)
                                << render_all(p->compiled.diagnostics);
  auto in = small_cluster();
  vm m(p->compiled.prog);
  m.prepare_cycle(in);
  auto role = m.prepare_role(0);
  auto fw = m.prepare_framework(0, role);
  // dominant share = max(5/10, 10/100) = 0.5; the key is framework-stage.
  auto key = m.read(0);
  EXPECT_EQ(key.number, 0.5);
  EXPECT_EQ(m.read(1).text, "f1");
  auto ag = m.prepare_agent(0);
  auto r = m.eval_pair(fw, ag, true);
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.rejected_by, 5);
  EXPECT_EQ(r.score, 3 * 0.5);  // score s errs (adds 0), t = 2/4.
  EXPECT_EQ(m.errors()[3], 1u);
  EXPECT_EQ(m.errors()[5], 1u);
  EXPECT_EQ(m.read(3).st, rule_value::state::error);
  // Without `all`, the rejecting filter ends the chunk.
  auto early = m.eval_pair(fw, ag);
  EXPECT_FALSE(early.accepted);
}

TEST(vm_semantics, order_key_errors_are_counted) {
  // min_request.disk is 0: the first key divides by zero for the framework
  // (an error: the allocator sorts it last), counted once per evaluation.
  auto p = compile_text(
      "policy \"t\" version 1;\n"
      "order frameworks by framework.allocated.disk / framework.min_request.disk asc, "
      "framework.id asc;\n");
  ASSERT_TRUE(p->compiled.ok()) << render_all(p->checked.diagnostics);
  auto in = small_cluster();
  vm m(p->compiled.prog);
  m.prepare_cycle(in);
  auto role = m.prepare_role(0);
  m.prepare_framework(0, role);
  EXPECT_EQ(m.read(0).st, rule_value::state::error);
  EXPECT_EQ(m.read(1).text, "f1");
  m.prepare_framework(0, role);
  EXPECT_EQ(m.errors()[0], 2u);
  EXPECT_EQ(m.errors()[1], 0u);
}

TEST(compiler, hoists_and_folds) {
  auto p = compile_text(
      "policy \"t\" version 1;\n"
      "let big = framework.min_request.cpus * 2;\n"
      "filter a: agent.free.cpus >= big && agent.total.cpus > 1 + 1;\n"
      "filter b: agent.free.cpus >= big;\n");
  ASSERT_TRUE(p->compiled.ok());
  auto& prog = *p->compiled.prog;
  auto text = disassemble(prog);
  // `1 + 1` is folded; `big` is framework-stage; `agent.total.cpus > 2` is
  // agent-stage; the pair chunk holds one compare (shared by both filters),
  // one AND and two FILTERs, plus RET.
  EXPECT_NE(text.find("; 2"), std::string::npos) << text;
  EXPECT_EQ(prog.chunks[size_t(chunk_id::pair)].size(), 5u) << text;
  EXPECT_EQ(prog.rules[0].stage, chunk_id::pair);
}

TEST(compiler, unsupported_constructs_are_diagnosed) {
  auto p = compile_text(
      "policy \"t\" version 1;\n"
      "filter f: agent.hostname in [agent.id, \"b\"];\n");
  ASSERT_TRUE(p->checked.ok()) << render_all(p->checked.diagnostics);
  ASSERT_FALSE(p->compiled.ok());
  ASSERT_EQ(p->compiled.diagnostics.size(), 1u);
  EXPECT_EQ(p->compiled.diagnostics[0].code, "E0901");
  EXPECT_NE(p->compiled.diagnostics[0].message.find("list literal"), std::string::npos);
  EXPECT_EQ(p->compiled.diagnostics[0].begin.column, 30u);  // At `agent.id`.
}

TEST(compiler, list_and_resource_literals_are_vector_constants) {
  auto p = compile_text(
      "policy \"t\" version 1;\n"
      "filter small: fits({cpus: 2, mem: 4GiB}, agent.free);\n"
      "filter named: agent.hostname in [\"h1\", \"h2\"];\n"
      "filter again: fits({mem: 4GiB, cpus: 2}, agent.total);\n");
  ASSERT_TRUE(p->compiled.ok()) << render_all(p->compiled.diagnostics);
  auto& prog = *p->compiled.prog;
  ASSERT_EQ(prog.vectors.size(), 2u);  // The two equal resource literals are one constant.
  EXPECT_FALSE(prog.vectors[0].list);
  EXPECT_EQ(prog.vectors[0].value[0], 2);
  EXPECT_EQ(prog.vectors[0].value[1], 4.0 * 1024 * 1024 * 1024);
  EXPECT_TRUE(prog.vectors[1].list);
  EXPECT_EQ(prog.vectors[1].value[0], 2);
  auto text = disassemble(prog);
  EXPECT_NE(text.find("LOADV"), std::string::npos) << text;
  EXPECT_NE(text.find("[\"h1\", \"h2\"]"), std::string::npos) << text;
  EXPECT_EQ(prog.chunks[size_t(chunk_id::constant)].size(), 3u) << text;  // Two LOADV, RET.

  eval_input in;
  for (auto [id, cpus] : {std::pair<const char*, double>{"h1", 4}, {"h2", 1}, {"h3", 8}}) {
    agent_view a;
    a.id = a.hostname = id;
    a.free[0] = a.total[0] = cpus;
    a.free[1] = a.total[1] = 16.0 * 1024 * 1024 * 1024;
    in.agents.push_back(a);
  }
  in.roles.emplace_back();
  in.frameworks.emplace_back();
  vm m(p->compiled.prog);
  m.prepare_cycle(in);
  auto fw = m.prepare_framework(0, m.prepare_role(0));
  std::vector<bool> accepted;
  for (size_t a = 0; a < in.agents.size(); ++a)
    accepted.push_back(m.eval_pair(fw, m.prepare_agent(a)).accepted);
  EXPECT_EQ(accepted, (std::vector<bool>{true, false, false}));  // h2: 1 cpu; h3: not named.
}

TEST(vm, loops_that_overrun_the_budget_err_instead_of_running_on) {
  auto p = compile_text(
      "policy \"t\" version 1;\n"
      "order roles by count(a in agents where a.free.cpus > 1) asc, role.name asc;\n");
  ASSERT_TRUE(p->compiled.ok()) << render_all(p->compiled.diagnostics);
  eval_input in;
  in.roles.emplace_back();
  for (int i = 0; i < 1000; ++i) {
    agent_view a;
    a.free[0] = i % 2 ? 4 : 1;
    in.agents.push_back(a);
  }
  vm full(p->compiled.prog);
  full.prepare_cycle(in);
  full.prepare_role(0);
  EXPECT_EQ(full.read(0).st, rule_value::state::value);
  EXPECT_EQ(full.read(0).number, 500);
  EXPECT_EQ(full.cost_overruns(), 0u);

  vm metered(p->compiled.prog);
  metered.set_loop_budget(100);  // Fewer instructions than 1000 iterations need.
  metered.prepare_cycle(in);
  metered.prepare_role(0);
  EXPECT_EQ(metered.read(0).st, rule_value::state::error);
  EXPECT_EQ(metered.cost_overruns(), 1u);
  EXPECT_GE(metered.errors()[0], 1u);
  in.agents.resize(5);  // A small cluster fits the same budget.
  metered.prepare_cycle(in);
  metered.prepare_role(0);
  EXPECT_EQ(metered.read(0).number, 2);
  EXPECT_EQ(metered.cost_overruns(), 1u);
}

// --- Differential tests -----------------------------------------------------

struct gen {
  std::mt19937_64 rng;
  explicit gen(uint64_t seed) : rng(seed) {}
  int pick(int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

  std::string res(int d) {
    static const char* leaves[] = {
        "agent.free",           "agent.total",
        "agent.used",           "framework.min_request",
        "framework.allocated",  "(framework.role.guarantee ?? cluster.total)",
        "{cpus: 2, mem: 4GiB}", "{cpus: 0.5, gpus: 1}"};
    if (d <= 0) return leaves[pick(8)];
    switch (pick(5)) {
      case 0:
        return "(" + res(d - 1) + " + " + res(d - 1) + ")";
      case 1:
        return "(" + res(d - 1) + " - " + res(d - 1) + ")";
      case 2:
        return "(" + res(d - 1) + " * " + num(d - 1) + ")";
      case 3:
        return "(" + boolean(d - 1) + " ? " + res(d - 1) + " : " + res(d - 1) + ")";
      default:
        return leaves[pick(8)];
    }
  }
  std::string num(int) {
    static const char* n[] = {"0", "1", "2", "0.5", "3"};
    return n[pick(5)];
  }
  std::string cores(int d) {
    if (d <= 0) return res(0) + ".cpus";
    switch (pick(9)) {
      case 0:
        return "(" + cores(d - 1) + " + " + cores(d - 1) + ")";
      case 1:
        return "(" + cores(d - 1) + " - " + cores(d - 1) + ")";
      case 2:
        return "(" + cores(d - 1) + " * " + num(d) + ")";
      case 3:
        return "(" + cores(d - 1) + " / " + num(d) + ")";
      case 4:
        return "max(" + cores(d - 1) + ", " + cores(d - 1) + ")";
      case 5:
        return "min(" + cores(d - 1) + ", " + cores(d - 1) + ", " + num(d) + ")";
      case 6:
        return "abs(" + cores(d - 1) + ")";
      case 7:
        return "(" + boolean(d - 1) + " ? " + cores(d - 1) + " : " + cores(d - 1) + ")";
      default:
        return res(d - 1) + ".cpus";
    }
  }
  std::string ratio(int d) {
    if (d <= 0) {
      static const char* leaves[] = {
          "dominant_share(framework)",
          "0.25",
          "(agent.metrics.cpu_pressure ?? 0.5)",
          "dominant_share(framework.role)",
          "max(r in roles where r.active : dominant_share(r) / r.weight)",
          "min(f in frameworks : dominant_share(f))",
          "mean(a in agents where a.free.cpus > agent.free.cpus : "
          "a.used.cpus / a.total.cpus)"};
      return leaves[pick(7)];
    }
    switch (pick(11)) {
      case 0:
        return "(" + cores(d - 1) + " / " + cores(d - 1) + ")";
      case 1:
        return "max(" + res(d - 1) + " / " + res(d - 1) + ")";
      case 2:
        return "mean((" + res(d - 1) + " / " + res(d - 1) + ").only(cpus, mem))";
      case 3:
        return "min((" + res(d - 1) + " / " + res(d - 1) + ").without(gpus))";
      case 4:
        return "(" + res(d - 1) + " / " + res(d - 1) + ").mem";
      case 5:
        return "clamp(" + ratio(d - 1) + ", 0.0, 1.0)";
      case 6:
        return "(" + ratio(d - 1) + " * " + ratio(d - 1) + ")";
      case 7:
        return "(" + ratio(d - 1) + " + " + ratio(d - 1) + ")";
      case 8:
        return "(" + ratio(d - 1) + " - " + num(d) + ")";
      case 9:
        return "(" + boolean(d - 1) + " ? " + ratio(d - 1) + " : " + ratio(d - 1) + ")";
      default:
        return "(" + res(d - 1) + ".mem / " + res(d - 1) + ".mem)";
    }
  }
  std::string boolean(int d) {
    if (d <= 0) {
      static const char* leaves[] = {
          "agent.attributes.ssd",
          "true",
          "(agent.attributes.rack == \"r1\")",
          "(agent.attributes.gpu_model == framework.labels.gpu_model)",
          "((framework.labels.team ?? \"a\") == \"a\")",
          "has(agent.metrics.cpu_pressure)",
          "has(framework.role.guarantee)",
          "framework.role.below_guarantee",
          "any(f in frameworks : f.allocated.cpus > framework.min_request.cpus)",
          "all(a in agents where a.free.mem > 0GiB : fits(framework.min_request, a.free))",
          "(count(a in agents where a.free.cpus >= agent.free.cpus) > 1)",
          "(sum(r in roles : r.allocated.cpus / r.weight) < 20)",
          "(agent.attributes.rack in split(framework.labels.data_racks ?? \"\", \",\"))",
          "(agent.attributes.gpu_model in split(framework.labels.data_racks ?? \"a\", \",\"))",
          "(agent.attributes.zone in zones_of_racks(split(framework.labels.data_racks ?? "
          "\"r1\", \",\")))",
          "(size(split(framework.labels.team ?? \"a,b\", \",\")) > 1)",
          "(agent.attributes.rack in [\"r1\", \"r3\"])",
          "(agent.attributes.gpu_model in [\"a100\"])",
          "((framework.labels.team ?? \"a\") in [\"b,,c\", \"x\"])",
          "(size([\"a\", \"b\"]) > 1)"};
      return leaves[pick(20)];
    }
    switch (pick(10)) {
      case 0:
        return "(" + cores(d - 1) + " < " + cores(d - 1) + ")";
      case 1:
        return "(" + cores(d - 1) + " >= " + num(d) + ")";
      case 2:
        return "(" + ratio(d - 1) + " <= " + ratio(d - 1) + ")";
      case 3:
        return "(" + boolean(d - 1) + " && " + boolean(d - 1) + ")";
      case 4:
        return "(" + boolean(d - 1) + " || " + boolean(d - 1) + ")";
      case 5:
        return "!" + boolean(d - 1);
      case 6:
        return "fits(" + res(d - 1) + ", " + res(d - 1) + ")";
      case 7:
        return "(" + cores(d - 1) + " != " + cores(d - 1) + ")";
      case 8:
        return "(" + boolean(d - 1) + " == " + boolean(d - 1) + ")";
      default:
        return "(agent.attributes.zone != \"z2\")";
    }
  }

  res_vec vec() {
    res_vec v{};
    for (size_t i = 0; i < 5; ++i) v[i] = pick(4) == 0 ? 0 : static_cast<double>(pick(64)) / 4;
    return v;
  }

  eval_input state() {
    eval_input in;
    in.cluster.total = vec();
    in.cluster.agents = 3;
    for (int r = 0; r < 2; ++r) {
      role_view role;
      role.name = role.path = "r" + std::to_string(r);
      role.weight = 1 + pick(3);
      role.allocated = vec();
      if (pick(2)) role.guarantee = vec();
      role.below_guarantee = pick(2);
      role.active = pick(3) != 0;
      in.roles.push_back(role);
    }
    for (int f = 0; f < 3; ++f) {
      framework_view fw;
      fw.id = "f" + std::to_string(f);
      fw.role = static_cast<size_t>(pick(2));
      fw.allocated = vec();
      fw.min_request = vec();
      if (pick(2)) fw.labels["gpu_model"] = pick(2) ? "a100" : "v100";
      if (pick(2)) fw.labels["team"] = pick(2) ? "a" : "b,,c";
      static const char* racks[] = {"", "r1", "r1,r2", ",r2,", "a,b,c,d,e,f,g,h"};
      if (pick(4)) fw.labels["data_racks"] = racks[pick(5)];
      in.frameworks.push_back(fw);
    }
    for (int a = 0; a < 3; ++a) {
      agent_view ag;
      ag.id = ag.hostname = "a" + std::to_string(a);
      ag.total = vec();
      ag.free = vec();
      ag.used = vec();
      ag.attributes["rack"] = pick(2) ? "r1" : "r2";
      ag.attributes["zone"] = pick(2) ? "z1" : "z2";
      ag.attributes["ssd"] = pick(2) ? "true" : "false";
      if (pick(2)) ag.attributes["gpu_model"] = pick(2) ? "a100" : "v100";
      if (pick(2)) ag.metrics["cpu_pressure"] = static_cast<double>(pick(8)) / 8;
      in.agents.push_back(ag);
    }
    return in;
  }
};

bool same(const rule_value& a, const rule_value& b) {
  if (a.st != b.st) return false;
  if (a.st != rule_value::state::value) return true;
  if (a.kind == value_kind::symbol) return a.text == b.text;
  return std::memcmp(&a.number, &b.number, sizeof(double)) == 0 || a.number == b.number;
}

std::string show(const rule_value& v) {
  if (v.st == rule_value::state::error) return "error";
  if (v.st == rule_value::state::absent) return "absent";
  if (v.kind == value_kind::symbol) return "\"" + v.text + "\"";
  std::ostringstream s;
  s.precision(17);
  s << v.number;
  return s.str();
}

TEST(differential, vm_agrees_with_oracle) {
  std::string error;
  auto schema_source = source_file::load(examples + "/cluster.schema", error);
  ASSERT_TRUE(schema_source) << error;
  auto loaded = load_schema(*schema_source);
  ASSERT_TRUE(loaded.value);
  const schema* s = &*loaded.value;
  gen g(20261125);
  int compiled = 0, compared = 0;
  for (int iter = 0; iter < 400; ++iter) {
    int depth = 1 + g.pick(3);
    std::string text =
        "policy \"diff\" version 1;\nuse std.fairness;\nuse std.strings;\nuse std.locality;\n";
    text += "order roles by dominant_share(role) / role.weight asc, role.name asc;\n";
    text += "order frameworks by " + g.cores(depth) + " asc, framework.id asc;\n";
    text += "filter f1: " + g.boolean(depth) + ";\n";
    text += "score s1 weight 2: " + g.ratio(depth) + ";\n";
    text += "filter f2: " + g.boolean(depth) + ";\n";
    text += "score s2 weight 0.5: " + g.ratio(depth) + ";\n";
    text += "locality when size(split(framework.labels.data_racks ?? \"\", \",\")) > 0 {\n";
    text += "  level near when " + g.boolean(depth) + " wait 5s;\n  level any;\n}\n";
    auto p = compile_text(text, s);
    if (!p->checked.ok()) continue;  // The generator is loose about units.
    ASSERT_TRUE(p->compiled.ok()) << text << render_all(p->compiled.diagnostics);
    ++compiled;
    if (std::getenv("AGORA_DEBUG")) std::cerr << text << disassemble(*p->compiled.prog);
    oracle o(p->checked, s);
    ASSERT_EQ(o.rule_count(), p->compiled.prog->rules.size());
    for (int st = 0; st < 3; ++st) {
      auto in = g.state();
      vm m(p->compiled.prog);
      m.prepare_cycle(in);
      std::vector<stage_regs> roles;
      for (size_t r = 0; r < in.roles.size(); ++r) {
        roles.push_back(m.prepare_role(r));
        for (size_t k = 0; k < 2; ++k) {
          auto want = o.eval(k, in, r, 0, 0);
          ASSERT_TRUE(same(m.read(k), want))
              << text << "role key " << k << ": vm " << show(m.read(k)) << " oracle " << show(want);
        }
      }
      for (size_t f = 0; f < in.frameworks.size(); ++f) {
        auto role = in.frameworks[f].role;
        auto fw = m.prepare_framework(f, roles[role]);
        for (size_t k = 2; k < 4; ++k) {
          auto want = o.eval(k, in, role, f, 0);
          ASSERT_TRUE(same(m.read(k), want))
              << text << "framework key: vm " << show(m.read(k)) << " oracle " << show(want);
        }
        for (size_t a = 0; a < in.agents.size(); ++a) {
          auto ag = m.prepare_agent(a);
          auto got = m.eval_pair(fw, ag, true);
          // Filters, scores and the locality rules (guard, level condition, wait).
          for (size_t k = 4; k < o.rule_count(); ++k) {
            auto want = o.eval(k, in, role, f, a);
            ASSERT_TRUE(same(m.read(k), want))
                << text << "rule " << k << " pair (" << f << "," << a << "): vm " << show(m.read(k))
                << " oracle " << show(want) << "\n"
                << disassemble(*p->compiled.prog);
            ++compared;
          }
          auto want = o.eval_pair(in, f, a);
          EXPECT_EQ(got.accepted, want.accepted);
          EXPECT_EQ(got.rejected_by, want.rejected_by);
          EXPECT_EQ(got.score, want.score) << text;
        }
      }
    }
  }
  // Enough random policies must type-check for the test to mean something.
  EXPECT_GE(compiled, 60) << "compiled " << compiled << " of 400";
  EXPECT_GT(compared, 1000);
}

TEST(differential, examples_agree_with_oracle) {
  // Every rule of every example, for every (framework, agent) pair of random
  // states: with a pair's registers loaded, all stages' values are visible.
  gen g(7);
  size_t compared = 0;
  for (auto* name :
       {"drf.policy", "weighted_drf.policy", "quotas.policy", "rack_local.policy", "binpack.policy",
        "spread.policy", "gpu_isolation.policy", "observability.policy"}) {
    auto p = load_policy(examples + "/" + name);
    ASSERT_TRUE(p->compiled.ok()) << name << render_all(p->diagnostics);
    oracle o(p->checked, p->schema ? &*p->schema : nullptr);
    // The oracle has no event stage: its rules are the program's rules
    // before the `on EVENT` metrics, which the compiler numbers last.
    size_t event_rules = 0;
    for (auto& r : p->compiled.prog->rules)
      event_rules +=
          r.what == rule_info::kind::event_value || r.what == rule_info::kind::event_when;
    ASSERT_EQ(o.rule_count() + event_rules, p->compiled.prog->rules.size()) << name;
    for (int st = 0; st < 20; ++st) {
      auto in = g.state();
      vm m(p->compiled.prog);
      m.prepare_cycle(in);
      std::vector<stage_regs> roles;
      for (size_t r = 0; r < in.roles.size(); ++r) roles.push_back(m.prepare_role(r));
      for (size_t f = 0; f < in.frameworks.size(); ++f) {
        auto role = in.frameworks[f].role;
        auto fw = m.prepare_framework(f, roles[role]);
        for (size_t a = 0; a < in.agents.size(); ++a) {
          auto got = m.eval_pair(fw, m.prepare_agent(a), true);
          for (size_t k = 0; k < o.rule_count(); ++k) {
            auto want = o.eval(k, in, role, f, a);
            ASSERT_TRUE(same(m.read(k), want))
                << name << " rule " << p->compiled.prog->rules[k].name << ": vm " << show(m.read(k))
                << " oracle " << show(want);
            ++compared;
          }
          auto want = o.eval_pair(in, f, a);
          EXPECT_EQ(got.accepted, want.accepted) << name;
          EXPECT_EQ(got.score, want.score) << name;
        }
      }
    }
  }
  EXPECT_GT(compared, 5000u);
}

}  // namespace
}  // namespace agora::policy
