#include "agora/policy/diagnostic.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>

namespace agora::policy {
namespace {

// How many times slower the sanitizer build (`make test-sanitize`) runs
// this code: its time bounds are scaled by it, so they still catch an
// algorithm gone quadratic without failing on instrumentation.
#if defined(__SANITIZE_ADDRESS__)
constexpr double slowdown = 20;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr double slowdown = 20;
#else
constexpr double slowdown = 1;
#endif
#else
constexpr double slowdown = 1;
#endif

TEST(diagnostic, renders_location_source_underline_and_help) {
  source_file f("x.policy", "policy \"p\" version 1;\nfilter f: agent.free.mem > 4096;\n");
  auto d = make_diagnostic(f, "E0305", {49, 53}, "no unit", "write 4096MiB");
  EXPECT_EQ(d.severity, severity::error);
  EXPECT_EQ(render(d),
            "x.policy:2:28: error[E0305]: no unit\n"
            "  |\n"
            "2 | filter f: agent.free.mem > 4096;\n"
            "  |                            ^~~~\n"
            "  = help: write 4096MiB\n");
}

TEST(diagnostic, warnings_and_underlines_under_non_ascii_text) {
  // "é" is two bytes: the column counts bytes, the underline characters.
  source_file f("x.policy", "let s = \"é\" + x;\n");
  auto d = make_diagnostic(f, "W0803", {15, 16}, "m");
  EXPECT_EQ(d.begin.column, 16u);
  EXPECT_EQ(render(d),
            "x.policy:1:16: warning[W0803]: m\n"
            "  |\n"
            "1 | let s = \"é\" + x;\n"
            "  |               ^\n");
}

TEST(diagnostic, suggestions_use_edit_distance_with_transpositions) {
  EXPECT_EQ(edit_distance("rakc", "rack"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_name("agnet", {"agent", "role", "cluster"}), "agent");
  EXPECT_EQ(closest_name("xyz", {"agent", "role"}), "");
}

TEST(diagnostic, suggestions_skip_long_names) {
  // Two 20,000-character names one letter apart: the full edit distance is
  // 400 million cells (about 1.5 s; 120,000 characters took 36 s). Names
  // longer than 64 characters get no suggestion, at once.
  std::string a(20000, 'a'), b = a;
  b.back() = 'b';
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(closest_name(a, {b}).empty());
  EXPECT_EQ(closest_name("agnet", {a, "agent"}), "agent");  // Long candidates are skipped.
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 0.1 * slowdown);
  // Up to 64 characters a slip is still found.
  std::string c(64, 'x'), d = c;
  d[10] = 'y';
  EXPECT_EQ(closest_name(c, {d}), d);
}

TEST(diagnostic, bounded_edit_distance_agrees_with_the_full_one) {
  // Random short strings over a small alphabet (many transpositions and
  // repeats): the banded distance is the full one, or `max + 1` above `max`.
  std::mt19937 rng(7);
  auto word = [&] {
    std::string w(rng() % 11, 'a');
    for (auto& c : w) c = static_cast<char>('a' + rng() % 3);
    return w;
  };
  for (int k = 0; k < 20000; ++k) {
    auto a = word(), b = word();
    size_t max = rng() % 12;
    size_t full = edit_distance(a, b);
    ASSERT_EQ(edit_distance(a, b, max), std::min(full, max + 1))
        << "'" << a << "' '" << b << "' max " << max;
  }
  // Two 100,000-character strings: a band of 7 cells per row, and the search
  // stops after a few rows where everything differs.
  std::string x(100000, 'x'), y(100000, 'y');
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(edit_distance(x, y, 3), 4u);
  y = x;
  y[50000] = 'y';
  EXPECT_EQ(edit_distance(x, y, 3), 1u);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 0.1 * slowdown);
}

TEST(diagnostic, codes_are_unique_and_well_formed) {
  std::set<std::string> seen;
  for (auto& c : all_codes()) {
    EXPECT_TRUE(seen.insert(std::string(c.code)).second) << c.code;
    ASSERT_EQ(c.code.size(), 5u);
    EXPECT_TRUE(c.code[0] == 'E' || c.code[0] == 'W');
    EXPECT_EQ(severity_of(c.code), c.code[0] == 'W' ? severity::warning : severity::error);
  }
}

}  // namespace
}  // namespace agora::policy
