#include "agora/policy/checker.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

namespace agora::policy {
namespace {

const schema& test_schema() {
  static const schema s = [] {
    auto r = load_schema(source_file("cluster.schema",
                                     "schema \"t\" version 1;\n"
                                     "resources { fpga: count; }\n"
                                     "agent.attributes { rack: string; zone: string; "
                                     "gpu_model: string?; }\n"
                                     "agent.metrics { cpu_pressure: ratio max_age 30s; }\n"
                                     "framework.labels { data_racks: string?; }\n"
                                     "limits { agents 100; frameworks 10; roles 5; "
                                     "tasks_per_agent 8; }\n"));
    EXPECT_TRUE(r.value) << render_all(r.diagnostics);
    return *r.value;
  }();
  return s;
}

/// Checks `body` after a standard header; returns the codes found, in order.
std::vector<std::string> codes(const std::string& body, bool with_schema = true) {
  source_file f("t.policy",
                "policy \"t\" version 1;\nuse std.fairness;\nuse std.strings;\n" + body);
  auto r = check_policy(f, with_schema ? &test_schema() : nullptr);
  std::vector<std::string> out;
  for (auto& d : r.diagnostics) out.push_back(d.code);
  return out;
}

bool has(const std::vector<std::string>& cs, const std::string& code) {
  return std::find(cs.begin(), cs.end(), code) != cs.end();
}

check_result check_text(const std::string& body) {
  source_file f("t.policy", "policy \"t\" version 1;\nuse std.fairness;\n" + body);
  return check_policy(f, &test_schema());
}

size_t count_code(const check_result& r, const std::string& code) {
  return static_cast<size_t>(std::count_if(r.diagnostics.begin(), r.diagnostics.end(),
                                           [&](const diagnostic& d) { return d.code == code; }));
}

// ---- units -------------------------------------------------------------------

TEST(units, plain_numbers_adopt_cores_and_counts) {
  EXPECT_TRUE(codes("filter f: agent.free.cpus >= 4 && agent.free.gpus > 0;").empty());
}

TEST(units, bytes_and_durations_need_a_unit) {
  EXPECT_EQ(codes("filter f: agent.free.mem > 4096;"), std::vector<std::string>{"E0305"});
  EXPECT_TRUE(codes("filter f: agent.free.mem > 4GiB;").empty());
  EXPECT_TRUE(codes("filter f: agent.free.mem > 0;").empty());  // Zero is unambiguous.
  EXPECT_EQ(codes("filter f: framework.waiting > 30;"), std::vector<std::string>{"E0305"});
  EXPECT_TRUE(codes("filter f: framework.waiting > 30s;").empty());
}

TEST(units, mixing_dimensions_is_an_error) {
  // cores + bytes has no meaning.
  EXPECT_EQ(codes("filter f: agent.free.cpus + agent.free.mem > 1GiB;"),
            std::vector<std::string>{"E0302"});
  EXPECT_EQ(codes("filter f: agent.free.cpus > agent.free.mem;"),
            std::vector<std::string>{"E0302"});
}

TEST(units, same_over_same_is_a_ratio) {
  auto r = check_text("score s weight 1: agent.free.mem / agent.total.mem;");
  EXPECT_TRUE(r.ok()) << render_all(r.diagnostics);
  auto& s = std::get<ast::score_decl>(r.ast->decls[0].node);
  EXPECT_EQ(s.value->ty.kind, type_kind::ratio);
  EXPECT_EQ(s.value->children[0]->ty.kind, type_kind::bytes);
  EXPECT_EQ(s.value->st, stage::agent);
}

TEST(units, resource_vectors_divide_into_ratios) {
  auto r = check_text("score s weight 1: max((agent.used / agent.total).only(cpus, mem));");
  EXPECT_TRUE(r.ok()) << render_all(r.diagnostics);
  auto& s = std::get<ast::score_decl>(r.ast->decls[0].node);
  EXPECT_EQ(s.value->ty.kind, type_kind::ratio);
  auto& only = *s.value->children[0];
  EXPECT_EQ(only.ty.kind, type_kind::ratios);
  EXPECT_EQ(only.children[1]->ref, ast::name_ref::resource);
}

TEST(units, scaling_keeps_the_dimension) {
  // 2 * bytes is bytes; 50% * cores is cores.
  EXPECT_TRUE(codes("filter f: agent.free.mem * 2 > 1GiB && 50% * agent.total.cpus < "
                    "agent.free.cpus;")
                  .empty());
  EXPECT_EQ(codes("filter f: agent.free.mem * agent.free.cpus > 1GiB;"),
            std::vector<std::string>{"E0302"});
}

TEST(units, percentages_above_100_are_rejected) {
  EXPECT_EQ(codes("filter f: agent.free.cpus / agent.total.cpus < 150%;"),
            std::vector<std::string>{"E0308"});
}

TEST(units, decimal_byte_units_are_a_lint) {
  EXPECT_EQ(codes("filter f: agent.free.mem > 4GB;"), std::vector<std::string>{"W0805"});
}

TEST(units, annotated_lets_need_units_too) {
  EXPECT_EQ(codes("let small: bytes = 4096;\nfilter f: agent.free.mem > small;"),
            std::vector<std::string>{"E0305"});
  EXPECT_TRUE(codes("let small: bytes = 4GiB;\nfilter f: agent.free.mem > small;").empty());
  // An annotation gives a plain number its unit.
  EXPECT_TRUE(codes("let few: cores = 4;\nfilter f: agent.free.cpus > few;").empty());
  EXPECT_EQ(codes("let few: cores = 4;\nfilter f: agent.free.mem > few;"),
            std::vector<std::string>{"E0302"});
}

TEST(units, unknown_unit) {
  EXPECT_EQ(codes("filter f: agent.free.mem > 4Gib;"), std::vector<std::string>{"E0106"});
}

TEST(units, quota_amounts_carry_units) {
  EXPECT_EQ(codes("roles { role \"a\" { guarantee {cpus: 4, mem: 800}; } }"),
            std::vector<std::string>{"E0305"});
  EXPECT_EQ(codes("roles { role \"a\" { guarantee {cpus: 4GiB}; } }"),
            std::vector<std::string>{"E0302"});
}

TEST(units, wait_needs_a_duration) {
  auto cs =
      codes("locality { level rack when agent.attributes.rack == \"r1\" wait 5; level any; }");
  EXPECT_EQ(cs, std::vector<std::string>{"E0305"});
  EXPECT_TRUE(codes("locality { level r when agent.attributes.rack == \"r1\" wait 0.2 * "
                    "cluster.agents skips; level any; }")
                  .empty());
}

// ---- types and names ---------------------------------------------------------

TEST(types, optionals_must_be_unwrapped) {
  EXPECT_EQ(codes("filter f: role.guarantee.cpus > 1;"), std::vector<std::string>{"E0303"});
  EXPECT_TRUE(codes("filter f: (role.guarantee ?? cluster.total).cpus > 1;").empty());
  // `==` between optionals is defined.
  EXPECT_TRUE(
      codes("filter f: agent.attributes.gpu_model == framework.labels.data_racks;").empty());
}

TEST(types, has_guards_narrow_optionals) {
  EXPECT_TRUE(codes("filter f: has(role.guarantee) && role.guarantee.cpus > 1;").empty());
  EXPECT_TRUE(codes("filter f: !has(role.guarantee) || role.guarantee.cpus > 1;").empty());
  EXPECT_TRUE(codes("filter f: has(role.guarantee) ? role.guarantee.cpus > 1 : false;").empty());
  EXPECT_TRUE(codes("filter f: !has(role.guarantee) ? true : role.guarantee.cpus > 1;").empty());
  // The guard must come first, and only covers what it names.
  EXPECT_EQ(codes("filter f: role.guarantee.cpus > 1 && has(role.guarantee);"),
            std::vector<std::string>{"E0303"});
  EXPECT_EQ(codes("filter f: has(role.guarantee) && role.limit.cpus > 1;"),
            std::vector<std::string>{"E0303"});
  EXPECT_EQ(codes("filter f: has(role.guarantee) || role.guarantee.cpus > 1;"),
            std::vector<std::string>{"E0303"});
}

TEST(types, filters_are_bool_and_scores_are_ratios) {
  EXPECT_EQ(codes("filter f: agent.free.cpus;"), std::vector<std::string>{"E0301"});
  EXPECT_EQ(codes("score s weight 1: agent.free.cpus;"), std::vector<std::string>{"E0304"});
}

TEST(names, misspellings_get_suggestions) {
  auto r = check_text("filter f: agent.attributes.rakc == \"r1\";");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0202");
  EXPECT_EQ(r.diagnostics[0].help, "did you mean `rack`?");
  auto n = check_text("filter f: agnet.free.cpus > 1;");
  ASSERT_EQ(n.diagnostics.size(), 1u);
  EXPECT_EQ(n.diagnostics[0].code, "E0201");
  EXPECT_EQ(n.diagnostics[0].help, "did you mean `agent`?");
  auto res = check_text("filter f: agent.free.cpu > 1;");
  ASSERT_EQ(res.diagnostics.size(), 1u);
  EXPECT_EQ(res.diagnostics[0].code, "E0203");
  EXPECT_EQ(res.diagnostics[0].help, "did you mean `cpus`?");
}

TEST(names, very_long_names_get_no_suggestion) {
  // "Did you mean" compared the two 20,000-character names letter by letter
  // (quadratic); names longer than 64 characters are not compared at all.
  std::string a(20000, 'a'), b = a;
  b.back() = 'b';
  auto start = std::chrono::steady_clock::now();
  auto r = check_text("let " + a + " = 1;\nfilter f: " + b + " > 0;\n");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(count_code(r, "E0201"), 1u) << render_all(r.diagnostics);
  for (auto& d : r.diagnostics) {
    if (d.code == "E0201") {
      EXPECT_TRUE(d.help.empty()) << d.help.substr(0, 40);
    }
  }
  EXPECT_LT(seconds, 0.5);
}

TEST(names, std_functions_need_their_module) {
  source_file f("t.policy", "policy \"t\" version 1;\nfilter f: size(split(\"a\", \",\")) > 0;\n");
  auto r = check_policy(f, &test_schema());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0204");
  EXPECT_EQ(r.diagnostics[0].help, "it is in `std.strings`: add `use std.strings;`");
}

TEST(names, without_a_schema_attributes_are_unknown) {
  EXPECT_EQ(codes("filter f: agent.attributes.rack == \"r1\";", false),
            std::vector<std::string>{"E0202"});
}

TEST(names, generic_lets_check_at_each_use) {
  auto r = check_text(
      "let share(x) = max(x.allocated / cluster.total);\n"
      "order roles by share(role) asc, role.name asc;\n"
      "order frameworks by share(framework) asc, framework.id asc;\n");
  EXPECT_TRUE(r.ok()) << render_all(r.diagnostics);
  EXPECT_TRUE(r.diagnostics.empty()) << render_all(r.diagnostics);
}

TEST(names, every_generic_call_carries_its_inlined_body) {
  auto r = check_text(
      "let share(x) = max(x.allocated / cluster.total);\n"
      "order roles by share(role) asc, role.name asc;\n"
      "order frameworks by share(framework) asc, framework.id asc;\n");
  ASSERT_TRUE(r.ok()) << render_all(r.diagnostics);
  auto& roles = std::get<ast::order_decl>(r.ast->decls[1].node);
  auto& frameworks = std::get<ast::order_decl>(r.ast->decls[2].node);
  auto& by_role = *roles.keys[0].key;
  auto& by_framework = *frameworks.keys[0].key;
  ASSERT_NE(by_role.body_, nullptr);
  ASSERT_NE(by_framework.body_, nullptr);
  // Same definition, two instantiations: `x` is a role in one, a framework in
  // the other, so the inlined bodies have different stages.
  EXPECT_EQ(by_role.body_->ty.kind, type_kind::ratio);
  EXPECT_EQ(by_role.body_->st, stage::role);
  EXPECT_EQ(by_framework.body_->st, stage::framework);
  auto& param = *by_framework.body_->children[0]->children[0]->children[0];  // `x`
  EXPECT_EQ(param.ref, ast::name_ref::param);
  EXPECT_EQ(param.ty.kind, type_kind::framework);
  EXPECT_EQ(by_framework.target, by_role.target);
}

TEST(names, recursion_is_rejected) {
  EXPECT_TRUE(has(codes("let a = b + 1;\nlet b = a + 1;\nfilter f: a > 0;"), "E0401"));
  EXPECT_TRUE(has(codes("fn f(x: count): count = f(x);\nfilter g: f(1) > 0;"), "E0401"));
}

// ---- limits on definitions and imports ---------------------------------------

/// Runs `work` in a child process that an alarm stops after `seconds`, so a
/// defect that overflows the stack or loops forever fails this test instead
/// of killing or hanging the test binary. Returns true if the child exited
/// normally and `work` returned true.
bool in_child(const std::function<bool()>& work, unsigned seconds = 10) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(seconds);
    _exit(work() ? 0 : 1);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// `let v0 = v1 + 1; ... let v{n-1} = 1;` and a filter reading `v0`: `n`
/// definitions nested in each other.
std::string let_chain(int n, int extra_height = 0) {
  std::string out;
  for (int i = 0; i + 1 < n; ++i) {
    out += "let v" + std::to_string(i) + " = v" + std::to_string(i + 1);
    for (int k = 0; k < extra_height; ++k) out += " + 1";
    out += ";\n";
  }
  out += "let v" + std::to_string(n - 1) + " = agent.free.gpus;\nfilter f: v0 > 0;\n";
  return out;
}

TEST(limits, thousands_of_nested_lets_are_too_deep_not_a_crash) {
  // Each `let` used to cost the checker a few stack frames more: 3,000
  // overflowed the stack. Now the 65th nested definition is E0103, reported
  // once, and the run is linear.
  EXPECT_TRUE(in_child([] {
    auto r = check_text(let_chain(3000));
    return !r.ok() && count_code(r, "E0103") == 1;
  }));
}

TEST(limits, definitions_nest_64_deep) {
  auto ok = check_text(let_chain(64));
  EXPECT_TRUE(ok.ok()) << render_all(ok.diagnostics);
  auto deep = check_text(let_chain(65));
  ASSERT_EQ(count_code(deep, "E0103"), 1u) << render_all(deep.diagnostics);
  for (auto& d : deep.diagnostics) {
    if (d.code == "E0103") {
      EXPECT_NE(d.message.find("definitions nested more than 64 levels deep"), std::string::npos)
          << d.message;
    }
  }
}

TEST(limits, the_depth_of_a_let_does_not_depend_on_where_it_is_first_used) {
  // Using the innermost definition first lets the checker memoize the chain
  // one level at a time; the chain is still 70 deep wherever `v0` is inlined
  // (by the compiler, the cost model, the oracle).
  std::string text = let_chain(70);
  for (int i = 69; i >= 0; --i)
    text += "filter f" + std::to_string(i) + ": v" + std::to_string(i) + " > 0;\n";
  auto r = check_text(text);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(count_code(r, "E0103"), 1u) << render_all(r.diagnostics);
}

TEST(limits, inlined_expressions_are_at_most_1024_levels_deep) {
  // Each definition but the last is 201 levels high (200 `+` above the
  // next one): 5 of them inline to 2 + 5 * 201 + 3 = 1,010 levels, 6 to
  // 1,211, more than 1,024.
  auto ok = check_text(let_chain(6, 200));
  EXPECT_TRUE(ok.ok()) << render_all(ok.diagnostics);
  auto deep = check_text(let_chain(7, 200));
  EXPECT_EQ(count_code(deep, "E0103"), 1u) << render_all(deep.diagnostics);
  // 32 functions each calling the previous one at the bottom of 250 `+`
  // used to overflow the stack (8,000 levels).
  EXPECT_TRUE(in_child([] {
    std::string text = "fn f0(x: count): count = x" + [] {
      std::string plus;
      for (int k = 0; k < 250; ++k) plus += " + 1";
      return plus;
    }() + ";\n";
    for (int i = 1; i < 32; ++i) {
      text += "fn f" + std::to_string(i) + "(x: count): count = f" + std::to_string(i - 1) + "(x)";
      for (int k = 0; k < 250; ++k) text += " + 1";
      text += ";\n";
    }
    text += "filter f: f31(agent.free.gpus) > 0;\n";
    auto r = check_text(text);
    return !r.ok() && count_code(r, "E0103") == 1;
  }));
}

TEST(limits, function_calls_nest_64_deep_too) {
  auto chain = [](int n) {
    std::string text = "fn f0(x: count): count = x + 1;\n";
    for (int i = 1; i < n; ++i)
      text +=
          "fn f" + std::to_string(i) + "(x: count): count = f" + std::to_string(i - 1) + "(x);\n";
    return text + "filter f: f" + std::to_string(n - 1) + "(agent.free.gpus) > 0;\n";
  };
  auto ok = check_text(chain(64));
  EXPECT_TRUE(ok.ok()) << render_all(ok.diagnostics);
  auto deep = check_text(chain(65));
  EXPECT_FALSE(deep.ok());
  EXPECT_GE(count_code(deep, "E0103"), 1u) << render_all(deep.diagnostics);
  EXPECT_EQ(count_code(deep, "E0401"), 0u) << render_all(deep.diagnostics);
}

TEST(limits, a_recursive_collection_is_an_error_not_an_endless_loop) {
  // The cost estimate used to follow `a` -> `b` -> `a` for the size of the
  // collection forever.
  EXPECT_TRUE(in_child(
      [] {
        auto r = check_text("let a = b;\nlet b = a;\nfilter f: count(x in a) > 0;\n");
        return !r.ok() && count_code(r, "E0401") >= 1;
      },
      5));
}

TEST(names, duplicates_are_rejected) {
  EXPECT_TRUE(has(codes("filter f: true;\nfilter f: true;"), "E0205"));
  EXPECT_TRUE(has(codes("order roles by role.name asc;\norder roles by role.name desc;"), "E0205"));
}

// ---- stages and phases -------------------------------------------------------

TEST(stages, order_roles_cannot_read_agents) {
  EXPECT_TRUE(has(codes("order roles by agent.free.cpus asc, role.name asc;"), "E0501"));
  // Through a `let`, too.
  EXPECT_TRUE(has(codes("let gpu_agent = agent.total.gpus > 0;\n"
                        "order roles by gpu_agent desc, role.name asc;"),
                  "E0501"));
}

TEST(stages, expressions_get_the_smallest_covering_stage) {
  auto r = check_text(
      "let wants = framework.min_request.gpus > 0;\n"
      "let gpu = agent.total.gpus > 0;\n"
      "filter f: !wants || gpu;\n");
  ASSERT_TRUE(r.ok()) << render_all(r.diagnostics);
  auto& wants = std::get<ast::let_decl>(r.ast->decls[0].node);
  auto& gpu = std::get<ast::let_decl>(r.ast->decls[1].node);
  auto& f = std::get<ast::filter_decl>(r.ast->decls[2].node);
  EXPECT_EQ(wants.value->st, stage::framework);
  EXPECT_EQ(gpu.value->st, stage::agent);
  EXPECT_EQ(f.cond->st, stage::pair);
  EXPECT_EQ(f.cond->children[0]->st, stage::framework);
  EXPECT_EQ(f.cond->children[1]->st, stage::agent);
  EXPECT_EQ(f.cond->children[1]->ref, ast::name_ref::let);
}

TEST(stages, lattice) {
  EXPECT_EQ(join(stage::framework, stage::agent), stage::pair);
  EXPECT_EQ(join(stage::role, stage::framework), stage::framework);
  EXPECT_EQ(join(stage::role, stage::agent), stage::pair);
  EXPECT_EQ(join(stage::constant, stage::cycle), stage::cycle);
  EXPECT_EQ(join(stage::cycle, stage::constant), stage::cycle);  // Symmetric.
  EXPECT_FALSE(stage_leq(stage::cycle, stage::constant));
  EXPECT_TRUE(stage_leq(stage::cycle, stage::agent));
  EXPECT_FALSE(stage_leq(stage::agent, stage::framework));
}

TEST(stages, offers_only_in_event_metrics) {
  EXPECT_TRUE(has(codes("filter f: offer.res.cpus > 1;"), "E0501"));
}

TEST(stages, for_only_in_preempt) {
  EXPECT_TRUE(has(codes("filter f: role.below_guarantee for 30s;"), "E0502"));
}

// ---- entitlements --------------------------------------------------------------

TEST(quotas, children_within_parent) {
  // 120 + 90 = 210 cpus > 200.
  auto r = check_text(
      "roles { role \"prod\" { guarantee {cpus: 200}; role \"web\" { guarantee {cpus: 120}; }\n"
      "  role \"etl\" { guarantee {cpus: 90}; } } }\n");
  ASSERT_EQ(r.diagnostics.size(), 1u) << render_all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].code, "E0601");
  EXPECT_EQ(r.diagnostics[0].message,
            "children of `prod` guarantee 210 cpus in total (120 + 90), more than the 200 "
            "`prod` guarantees");
}

TEST(quotas, guarantee_within_limit_and_no_ports) {
  EXPECT_EQ(codes("roles { role \"a\" { guarantee {mem: 2GiB}; limit {mem: 1GiB}; } }"),
            std::vector<std::string>{"E0602"});
  EXPECT_EQ(codes("roles { role \"a\" { limit {ports: 10}; } }"),
            std::vector<std::string>{"E0603"});
  EXPECT_EQ(codes("roles { role \"a\" { limit {cpu: 10}; } }"), std::vector<std::string>{"E0604"});
  EXPECT_EQ(codes("roles { role \"a\" { weight 0; } }"), std::vector<std::string>{"E0307"});
  EXPECT_TRUE(codes("roles { role \"a\" { limit {fpga: 2}; } }").empty());  // From the schema.
}

TEST(locality, last_level_unconditional) {
  EXPECT_EQ(codes("locality { level rack when agent.attributes.rack == \"r\" wait 5s; }"),
            std::vector<std::string>{"E0605"});
}

// ---- metrics -------------------------------------------------------------------

TEST(metrics, naming_rules) {
  EXPECT_EQ(codes("metric counter agora_policy_offers {role} help \"x\" on offer += 1;"),
            std::vector<std::string>{"E0702"});
  EXPECT_EQ(codes("metric gauge offers_ratio help \"x\" every cycle = 0.5;"),
            std::vector<std::string>{"E0701"});
  EXPECT_EQ(codes("metric gauge agora_policy_free_mem help \"x\" every cycle = "
                  "cluster.free.mem;"),
            std::vector<std::string>{"E0703"});
  EXPECT_EQ(codes("metric gauge agora_policy_x_ratio {agent} help \"x\" every cycle = 0.5;"),
            std::vector<std::string>{"E0704"});
  EXPECT_EQ(codes("metric histogram agora_policy_m_bytes help \"x\" buckets [2GiB, 1GiB] "
                  "on offer observe offer.res.mem;"),
            std::vector<std::string>{"E0706"});
}

TEST(metrics, labels_need_a_value_source) {
  // Offers carry role, framework and locality; rack comes from the agent (schema).
  EXPECT_TRUE(codes("metric counter agora_policy_o_total {role, locality, rack} help \"x\" "
                    "on offer += 1;")
                  .empty());
  EXPECT_EQ(codes("metric counter agora_policy_o_total {rack} help \"x\" on offer += 1;", false),
            std::vector<std::string>{"E0709"});
  EXPECT_EQ(codes("metric counter agora_policy_o_total {locality} help \"x\" on launch += 1;"),
            std::vector<std::string>{"E0709"});
}

TEST(metrics, every_cycle_metrics_cannot_read_pairs) {
  EXPECT_TRUE(has(codes("metric gauge agora_policy_x_ratio {role} help \"x\" every cycle = "
                        "agent.free.cpus / agent.total.cpus;"),
                  "E0501"));
}

// ---- cost ----------------------------------------------------------------------

TEST(cost, aggregates_need_bounded_collections) {
  EXPECT_TRUE(
      has(codes("filter f: count(x in split(\"a,b\", \",\") where x == \"a\") > 0;"), "E0402"));
}

TEST(cost, hoisting_aware_estimate) {
  // `framework.min_request.cpus` (3 nodes) is computed once per framework,
  // `agent.free.cpus` (3 nodes) once per agent; only `>` runs per pair.
  // Per cycle with 10 frameworks and 100 agents: 3*10 + 3*100 + 1*10*100 = 1330.
  auto r = check_text("filter f: agent.free.cpus > framework.min_request.cpus;");
  ASSERT_TRUE(r.ok()) << render_all(r.diagnostics);
  ASSERT_EQ(r.costs.size(), 1u);
  auto& c = r.costs[0];
  EXPECT_EQ(c.rule, "filter f");
  EXPECT_EQ(c.stage, stage::pair);
  EXPECT_EQ(c.units_by_stage[static_cast<size_t>(stage::framework)], 3);
  EXPECT_EQ(c.units_by_stage[static_cast<size_t>(stage::agent)], 3);
  EXPECT_EQ(c.pair_units, 1);
  EXPECT_EQ(c.cycle_units, 1330);
  EXPECT_NE(render_costs(r).find("filter f: stage pair, 1 unit per pair, ~1330 units per cycle "
                                 "(per instance: framework 3, agent 3, pair 1)"),
            std::string::npos)
      << render_costs(r);
}

TEST(cost, collections_passed_to_functions_keep_their_bound) {
  EXPECT_TRUE(codes("let busy(xs) = count(x in xs where x.active);\n"
                    "metric gauge agora_policy_busy_ratio help \"x\" every cycle = "
                    "busy(roles) / size(roles);")
                  .empty());
  EXPECT_TRUE(has(codes("let busy(xs) = count(x in xs where x == \"a\");\n"
                        "filter f: busy(split(\"a,b\", \",\")) > 0;"),
                  "E0402"));
}

TEST(cost, a_let_read_many_times_is_computed_once) {
  // `l0 = agent.free.cpus` is 3 agent units; each `lN = lM + lM` is 3 (`+`
  // and two reads of a register); `l63 > 0` is 2 agent units and a constant.
  // Computed once each: 3 + 63 * 3 + 2 = 194 agent units, not 2^63 copies
  // of `l0`.
  std::string text = "let l0 = agent.free.cpus;\n";
  for (int i = 1; i <= 63; ++i)
    text += "let l" + std::to_string(i) + " = l" + std::to_string(i - 1) + " + l" +
            std::to_string(i - 1) + ";\n";
  auto r = check_text(text + "filter f: l63 > 0;\n");
  ASSERT_TRUE(r.ok()) << render_all(r.diagnostics);
  ASSERT_EQ(r.costs.size(), 1u);
  auto& c = r.costs[0];
  EXPECT_EQ(c.units_by_stage[static_cast<size_t>(stage::agent)], 194);
  EXPECT_EQ(c.units_by_stage[static_cast<size_t>(stage::constant)], 1);
  EXPECT_EQ(c.pair_units, 0);
  // Two rules reading `l63` each count it (per rule), still once.
  auto two = check_text(text + "filter f: l63 > 0;\nfilter g: l63 < 100;\n");
  ASSERT_EQ(two.costs.size(), 2u);
  EXPECT_EQ(two.costs[1].units_by_stage[static_cast<size_t>(stage::agent)], 194);
}

TEST(cost, a_let_read_inside_an_aggregate_is_computed_once_per_cycle) {
  // `cap`'s value (`framework`, `.min_request`, `.cpus` and `*`: 4 framework
  // units; `2` is a constant) reads no task, so it is computed once, not
  // once per task; each of the 8 tasks per agent (schema) reads it, 1 unit:
  // 4 + 8 = 12 framework units (not 8 * 5 = 40). Constants: `2` and `4`.
  // Per pair: `>` per task, `count` and `<`: 8 + 2 = 10.
  auto r = check_text(
      "let cap = framework.min_request.cpus * 2;\n"
      "filter f: count(t in agent.tasks where t.res.cpus > cap) < 4;\n");
  ASSERT_TRUE(r.ok()) << render_all(r.diagnostics);
  ASSERT_EQ(r.costs.size(), 1u);
  EXPECT_EQ(r.costs[0].units_by_stage[static_cast<size_t>(stage::framework)], 12);
  EXPECT_EQ(r.costs[0].units_by_stage[static_cast<size_t>(stage::constant)], 2);
  EXPECT_EQ(r.costs[0].pair_units, 10);
}

TEST(cost, functions_that_double_at_every_level_are_rejected) {
  // A `fn` is inlined at every call, with its argument: g14 is 2^14 copies
  // of `x + 1` per pair, far above the budget of 500 units per pair.
  std::string text = "fn g0(x: cores): cores = x + 1;\n";
  for (int i = 1; i <= 14; ++i)
    text += "fn g" + std::to_string(i) + "(x: cores): cores = g" + std::to_string(i - 1) +
            "(x) + g" + std::to_string(i - 1) + "(x);\n";
  auto r = check_text(text + "filter f: g14(agent.free.cpus - framework.min_request.cpus) > 0;\n");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(codes(text + "filter f: g14(agent.free.cpus - framework.min_request.cpus) > 0;"),
                  "E0403"));
}

TEST(cost, event_metrics_cost_per_event) {
  auto r = check_text("metric counter agora_policy_offers_total {role} help \"x\" on offer += 1;");
  ASSERT_TRUE(r.ok()) << render_all(r.diagnostics);
  ASSERT_EQ(r.costs.size(), 1u);
  EXPECT_TRUE(r.costs[0].per_event);
  EXPECT_EQ(r.costs[0].event_units, 1);
  EXPECT_NE(render_costs(r).find("metric agora_policy_offers_total: stage const, 1 unit per event"),
            std::string::npos)
      << render_costs(r);
}

TEST(cost, pair_budget) {
  // 8 tasks per agent (schema) x ~7 units per task: below 500.
  EXPECT_TRUE(codes("filter f: count(t in agent.tasks where t.framework.id == framework.id) "
                    "< 4;")
                  .empty());
  source_file f("t.policy",
                "policy \"t\" version 1;\n"
                "filter f: count(t in agent.tasks where t.framework.id == framework.id) < 4;\n");
  auto big = schema(test_schema());
  big.limits["tasks_per_agent"] = 1000;
  auto r = check_policy(f, &big);
  ASSERT_EQ(r.diagnostics.size(), 1u) << render_all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].code, "E0403");
  ASSERT_EQ(r.costs.size(), 1u);
  EXPECT_GT(r.costs[0].pair_units, 1000);
}

// ---- lints ---------------------------------------------------------------------

TEST(lints, order_tie_break_constant_filter_unused_let_zero_weight) {
  EXPECT_EQ(codes("order roles by role.weight asc;"), std::vector<std::string>{"W0801"});
  EXPECT_TRUE(codes("order roles by role.name asc, role.weight asc;").empty());
  EXPECT_EQ(codes("filter f: true;"), std::vector<std::string>{"W0802"});
  EXPECT_EQ(codes("let x = 1;"), std::vector<std::string>{"W0803"});
  EXPECT_EQ(codes("score s weight 0: 0.5;"), std::vector<std::string>{"W0804"});
}

TEST(support, spread_and_preempt_are_not_supported_yet) {
  EXPECT_EQ(codes("spread racks over agent.attributes.rack max_skew 1 require;"),
            std::vector<std::string>{"E0107"});
  EXPECT_EQ(codes("preempt { when role.below_guarantee for 30s; }"),
            std::vector<std::string>{"E0107"});
}

}  // namespace
}  // namespace agora::policy

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "agora/policy/tool_testing.hpp"

namespace agora::policy {
namespace {

TEST(imports, definitions_from_imported_files_are_visible) {
  char buffer[] = "/tmp/agora-import-XXXXXX";
  std::string dir = mkdtemp(buffer);
  std::ofstream(dir + "/base.policy") << "policy \"base\" version 1;\nuse std.fairness;\n"
                                         "let share(x) = max(x.allocated / cluster.total);\n"
                                         "filter bad: agent.free.mem > 10;\n";
  std::ofstream(dir + "/main.policy") << "policy \"main\" version 1;\nimport \"base.policy\";\n"
                                         "order roles by share(role) asc, role.name asc;\n";
  std::string error;
  auto file = source_file::load(dir + "/main.policy", error);
  ASSERT_TRUE(file) << error;
  auto r = check_policy(*file);
  // The imported file's own error is reported under its name; its `let` works.
  ASSERT_EQ(r.diagnostics.size(), 1u) << render_all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].code, "E0305");
  EXPECT_EQ(r.diagnostics[0].file, dir + "/base.policy");
  ASSERT_EQ(r.imports.size(), 1u);
  EXPECT_EQ(r.imports[0].ast.name, "base");
  auto& order = std::get<ast::order_decl>(r.ast->decls[0].node);
  auto& call = *order.keys[0].key;
  ASSERT_EQ(call.ref, ast::name_ref::let);
  ASSERT_NE(call.target, nullptr);
  EXPECT_EQ(call.target->name, "share");
  EXPECT_EQ(call.ty.kind, type_kind::ratio);
  EXPECT_EQ(call.st, stage::role);
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST(imports, imports_nest_at_most_32_files_deep) {
  // i0 imports i1, which imports i2, ...: loading them recursed once per file.
  char buffer[] = "/tmp/agora-import-XXXXXX";
  std::string dir = mkdtemp(buffer);
  auto chain = [&](int n) {
    for (int i = 0; i < n; ++i)
      std::ofstream(dir + "/i" + std::to_string(i) + ".policy")
          << "policy \"i" << i << "\" version 1;\n"
          << (i + 1 < n ? "import \"i" + std::to_string(i + 1) + ".policy\";\n" : "");
    std::string error;
    auto file = source_file::load(dir + "/i0.policy", error);
    EXPECT_TRUE(file) << error;
    return file ? check_policy(*file) : check_result{};
  };
  auto ok = chain(33);  // The main file and 32 nested imports.
  EXPECT_TRUE(ok.ok()) << render_all(ok.diagnostics);
  auto deep = chain(40);
  ASSERT_EQ(deep.diagnostics.size(), 1u) << render_all(deep.diagnostics);
  EXPECT_EQ(deep.diagnostics[0].code, "E0103");
  EXPECT_EQ(deep.diagnostics[0].file, dir + "/i32.policy");
  std::system(("rm -rf '" + dir + "'").c_str());
}

/// A folder with a main policy that imports `what`; checks the main policy.
struct import_fixture {
  testing_support::temp_dir dir;
  std::string main;
  check_result check(const std::string& what) {
    main = dir.write("main.policy",
                     "policy \"main\" version 1;\nimport \"" + what + "\";\nfilter f: true;\n");
    std::string error;
    auto file = source_file::load(main, error);
    EXPECT_TRUE(file) << error;
    return file ? check_policy(*file) : check_result{};
  }
};

/// Returns true if a diagnostic mentions or quotes `text`.
bool mentions(const check_result& r, const std::string& text) {
  return std::any_of(r.diagnostics.begin(), r.diagnostics.end(), [&](const diagnostic& d) {
    return render(d).find(text) != std::string::npos;
  });
}

TEST(imports, absolute_paths_are_refused_and_never_quoted) {
  // `import "/etc/passwd"` printed the file's first line in a syntax error.
  import_fixture f;
  auto secret = f.dir.write("secret.txt", "root:x:0:0:secret-line\n");
  auto r = f.check(secret);
  ASSERT_EQ(count_code(r, "E0210"), 1u) << render_all(r.diagnostics);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(mentions(r, "secret-line")) << render_all(r.diagnostics);
  for (auto& d : r.diagnostics) {
    if (d.code == "E0210") {
      EXPECT_EQ(d.file, f.main);
    }
  }
}

TEST(imports, paths_leaving_the_folder_are_refused) {
  import_fixture f;
  std::string outside = f.dir.path + "/outside";
  std::string inside = f.dir.path + "/in";
  ASSERT_EQ(std::system(("mkdir -p '" + outside + "' '" + inside + "'").c_str()), 0);
  std::ofstream(outside + "/x.policy") << "policy \"x\" version 1;\nlet y = 1;\n";
  // `main.policy` in `in/` reaching `../outside/x.policy`.
  std::ofstream(inside + "/main.policy")
      << "policy \"main\" version 1;\nimport \"../outside/x.policy\";\nfilter f: true;\n";
  std::string error;
  auto file = source_file::load(inside + "/main.policy", error);
  ASSERT_TRUE(file) << error;
  auto r = check_policy(*file);
  EXPECT_EQ(count_code(r, "E0210"), 1u) << render_all(r.diagnostics);
  EXPECT_TRUE(r.imports.empty());
  // A symbolic link inside the folder that resolves outside it.
  ASSERT_EQ(symlink((outside + "/x.policy").c_str(), (inside + "/link.policy").c_str()), 0);
  std::ofstream(inside + "/main.policy")
      << "policy \"main\" version 1;\nimport \"link.policy\";\nfilter f: true;\n";
  file = source_file::load(inside + "/main.policy", error);
  ASSERT_TRUE(file) << error;
  r = check_policy(*file);
  EXPECT_EQ(count_code(r, "E0210"), 1u) << render_all(r.diagnostics);
  EXPECT_TRUE(r.imports.empty());
}

TEST(imports, files_in_subfolders_are_fine) {
  import_fixture f;
  ASSERT_EQ(std::system(("mkdir -p '" + f.dir.path + "/lib'").c_str()), 0);
  f.dir.write("lib/base.policy", "policy \"base\" version 1;\nimport \"more.policy\";\n");
  f.dir.write("lib/more.policy", "policy \"more\" version 1;\nlet m = 1;\n");
  auto r = f.check("lib/base.policy");
  EXPECT_FALSE(has_errors(r.diagnostics)) << render_all(r.diagnostics);
  EXPECT_EQ(r.imports.size(), 2u);
}

TEST(imports, fifos_and_devices_are_refused_without_blocking) {
  // Opening a FIFO for reading waits for a writer: `check` hung.
  import_fixture f;
  ASSERT_EQ(mkfifo((f.dir.path + "/pipe.policy").c_str(), 0600), 0);
  EXPECT_TRUE(in_child(
      [&] {
        auto r = f.check("pipe.policy");
        return count_code(r, "E0210") == 1 && r.imports.empty();
      },
      5));
  // The policy under test of a test block is read the same way.
  auto test =
      f.dir.write("t_test.policy", "test \"t\" { given policy \"pipe.policy\"; expect 1 == 1; }\n");
  EXPECT_TRUE(in_child(
      [&] {
        std::string error;
        auto file = source_file::load(test, error);
        return file && count_code(check_policy(*file), "E0208") == 1;
      },
      5));
}

TEST(imports, a_file_that_is_not_a_policy_is_reported_at_the_import) {
  import_fixture f;
  f.dir.write("notes.policy", "remember: the password is hunter2\n");
  auto r = f.check("notes.policy");
  ASSERT_EQ(r.diagnostics.size(), 2u) << render_all(r.diagnostics);  // And W0802.
  EXPECT_EQ(r.diagnostics[0].code, "E0108");
  EXPECT_EQ(r.diagnostics[0].file, f.main);
  EXPECT_EQ(r.diagnostics[0].begin.line, 2u);
  EXPECT_FALSE(mentions(r, "hunter2")) << render_all(r.diagnostics);
  // A policy with a syntax error is quoted: it is the user's own code.
  f.dir.write("broken.policy", "// A comment first.\npolicy \"b\" version 1;\nlet x = ;\n");
  auto broken = f.check("broken.policy");
  ASSERT_EQ(count_code(broken, "E0101"), 1u) << render_all(broken.diagnostics);
  EXPECT_TRUE(mentions(broken, "let x = ;"));
}

TEST(imports, files_above_the_size_limit_are_refused_at_the_import) {
  import_fixture f;
  f.dir.write("big.policy", "policy \"big\" version 1;\n" + std::string(300 * 1024, ' '));
  auto r = f.check("big.policy");
  ASSERT_EQ(count_code(r, "E0102"), 1u) << render_all(r.diagnostics);
  for (auto& d : r.diagnostics) {
    if (d.code == "E0102") {
      EXPECT_EQ(d.file, f.main);
    }
  }
}

TEST(tests, expected_codes_must_exist) {
  source_file ok("t.policy", "test \"t\" { expect compile_error \"E0305\" for \"x\"; }\n");
  EXPECT_TRUE(check_policy(ok).diagnostics.empty());
  source_file bad("t.policy", "test \"t\" { expect compile_error \"E9999\" for \"x\"; }\n");
  auto r = check_policy(bad);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0209");
}

TEST(tests, the_policy_under_test_must_exist) {
  source_file f("/nonexistent-dir/t.policy",
                "test \"t\" { given policy \"quotas.policy\"; expect 1 == 1; }\n");
  auto r = check_policy(f);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0208");
}

TEST(cycle, options_are_validated) {
  EXPECT_TRUE(codes("cycle {\n  sample_agents 10%;\n  min_sample 200;\n"
                    "  max_offers per_framework 16;\n  max_pairs 2000000;\n}")
                  .empty());
  EXPECT_EQ(codes("cycle { sample_agent 10%; }"), std::vector<std::string>{"E0209"});
  EXPECT_EQ(codes("cycle { sample_agents 10; }"), std::vector<std::string>{"E0301"});
}

TEST(names, fn_annotations_are_checked) {
  EXPECT_TRUE(
      codes("fn half(x: cores): cores = x / 2;\nfilter f: half(agent.free.cpus) > 1;").empty());
  EXPECT_EQ(codes("fn half(x: cores): bytes = x / 2;\nfilter f: half(agent.free.cpus) > 1GiB;"),
            std::vector<std::string>{"E0301"});
  EXPECT_EQ(codes("fn half(x: cores): cores = x / 2;\nfilter f: half(agent.free.mem) > 1;"),
            std::vector<std::string>{"E0301"});
}

}  // namespace
}  // namespace agora::policy
