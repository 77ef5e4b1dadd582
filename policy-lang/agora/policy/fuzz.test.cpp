// Fuzz-style robustness tests: random, mutated and truncated input must never
// crash or hang the parser or checker, and input that fails to parse always
// produces at least one E01xx diagnostic. Seeds are fixed, so failures
// reproduce.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "agora/policy/checker.hpp"
#include "agora/policy/formatter.hpp"
#include "agora/policy/parser.hpp"

namespace agora::policy {
namespace {

const char* example_names[] = {"drf.policy",           "weighted_drf.policy",  "quotas.policy",
                               "rack_local.policy",    "binpack.policy",       "spread.policy",
                               "gpu_isolation.policy", "observability.policy", "quotas_test.policy",
                               "cluster.schema"};

std::vector<std::string> example_texts() {
  std::vector<std::string> out;
  for (auto* name : example_names) {
    std::string error;
    auto f = source_file::load(std::string(AGORA_POLICY_EXAMPLES_DIR) + "/" + name, error);
    EXPECT_TRUE(f) << error;
    if (f) out.push_back(f->text());
  }
  return out;
}

/// Checks `text` and asserts the robustness contract; returns the seconds taken.
double exercise(const std::string& text) {
  auto start = std::chrono::steady_clock::now();
  source_file source("fuzz.policy", text);
  auto parsed = parse(source);
  if (!parsed.file) {
    EXPECT_FALSE(parsed.diagnostics.empty()) << "no diagnostic for:\n" << text;
    for (auto& d : parsed.diagnostics) {
      EXPECT_EQ(d.code.substr(0, 3), "E01") << text;
      EXPECT_FALSE(render(d).empty());
    }
  } else {
    // Whatever parses can be checked and formatted, and formatting is stable.
    check_options options;
    options.load_imports = false;
    auto checked = check_policy(source, options);
    for (auto& d : checked.diagnostics) EXPECT_FALSE(render(d).empty());
    auto once = format(*parsed.file, source);
    source_file again("fuzz.policy", once);
    auto reparsed = parse(again);
    EXPECT_TRUE(reparsed.file) << "formatted text does not parse:\n" << once;
    if (reparsed.file) {
      EXPECT_EQ(format(*reparsed.file, again), once);
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(fuzz, truncated_examples) {
  double worst = 0;
  for (auto& text : example_texts())
    for (size_t cut = 0; cut < text.size(); cut += 3)
      worst = std::max(worst, exercise(text.substr(0, cut)));
  EXPECT_LT(worst, 2.0);
}

TEST(fuzz, random_bytes) {
  std::mt19937 rng(20261125);
  double worst = 0;
  for (int i = 0; i < 2000; ++i) {
    // Half arbitrary bytes (mostly invalid UTF-8), half printable ASCII.
    std::string text(rng() % 300, '\0');
    for (auto& c : text) c = static_cast<char>(i % 2 ? rng() % 256 : 32 + rng() % 95);
    worst = std::max(worst, exercise(text));
  }
  EXPECT_LT(worst, 2.0);
}

TEST(fuzz, random_token_soup) {
  const std::vector<std::string> tokens = {
      "policy",   "\"p\"", "version", "1",     ";",     "let",    "x",      "=",       "(",
      ")",        "{",     "}",       "[",     "]",     "filter", "score",  "weight",  ":",
      "agent",    ".",     "free",    "cpus",  "mem",   "512MiB", "5%",     "30s",     "+",
      "-",        "*",     "/",       "&&",    "||",    "!",      "??",     "?",       "in",
      "sum",      "r",     "roles",   "where", "role",  "order",  "by",     "asc",     ",",
      "locality", "level", "when",    "wait",  "any",   "metric", "gauge",  "help",    "every",
      "cycle",    "on",    "offer",   "+=",    "test",  "given",  "expect", "fn",      "max",
      "for",      "==",    "<",       "\n",    "//c\n", "/*c*/",  "roles",  "default", "guarantee"};
  std::mt19937 rng(7);
  double worst = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = i % 2 ? "policy \"p\" version 1;\n" : "";
    size_t n = rng() % 60;
    for (size_t k = 0; k < n; ++k) text += tokens[rng() % tokens.size()] + " ";
    worst = std::max(worst, exercise(text));
  }
  EXPECT_LT(worst, 2.0);
}

TEST(fuzz, mutated_examples) {
  std::mt19937 rng(42);
  auto texts = example_texts();
  double worst = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string text = texts[rng() % texts.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text.erase(at, 1 + rng() % 8);
          break;
        case 1:
          text.insert(at, 1, "(){};:.,!?\"x1"[rng() % 13]);
          break;
        default:
          text[at] = static_cast<char>(' ' + rng() % 95);
          break;
      }
    }
    worst = std::max(worst, exercise(text));
  }
  EXPECT_LT(worst, 2.0);
}

TEST(limits, ten_megabytes_are_rejected_quickly) {
  std::string text = "policy \"p\" version 1;\n";
  while (text.size() < (10u << 20)) text += "filter f: agent.free.cpus > 1;\n";
  auto start = std::chrono::steady_clock::now();
  auto r = parse(source_file("big.policy", text));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(r.file);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0102");
  EXPECT_EQ(render(r.diagnostics[0]).substr(0, 29), "big.policy:1:1: error[E0102]:");
  EXPECT_LT(seconds, 1.0);
}

TEST(limits, ten_thousand_parentheses_are_rejected_quickly) {
  std::string text = "policy \"p\" version 1;\nfilter f: " + std::string(10000, '(') + "true" +
                     std::string(10000, ')') + ";\n";
  auto start = std::chrono::steady_clock::now();
  source_file source("deep.policy", text);
  auto r = check_policy(source);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(r.ast);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0103");
  EXPECT_LT(seconds, 1.0);
}

TEST(limits, unclosed_parentheses_are_rejected_too) {
  auto r = parse(source_file("open.policy",
                             "policy \"p\" version 1;\nlet x = " + std::string(10000, '(') + "\n"));
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(r.diagnostics[0].code, "E0103");
}

}  // namespace
}  // namespace agora::policy

namespace agora::policy {
namespace {

TEST(limits, a_maximal_file_of_mistakes_checks_in_bounded_time) {
  // Just under 256 KiB of definitions and misspelt uses: suggestions and
  // duplicate detection must not become quadratic.
  std::string text = "policy \"p\" version 1;\n";
  for (int i = 0; text.size() < 250 * 1024; ++i) {
    text += "let value_" + std::to_string(i) + " = agent.free.cpus * " + std::to_string(i) + ";\n";
    text += "filter f" + std::to_string(i) + ": valeu_" + std::to_string(i) + " > 1;\n";
  }
  auto start = std::chrono::steady_clock::now();
  auto r = check_policy(source_file("many.policy", text));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(r.ok());
  EXPECT_GT(r.diagnostics.size(), 1000u);
  EXPECT_LT(seconds, 10.0);
}

}  // namespace
}  // namespace agora::policy
