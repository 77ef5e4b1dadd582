#include "agora/protocol/resources.hpp"

#include <gtest/gtest.h>

namespace agora::protocol {
namespace {

resources parse_ok(const std::string& text) {
  resources r;
  std::string error;
  EXPECT_TRUE(resources::parse(text, r, error)) << text << ": " << error;
  return r;
}

std::string parse_error(const std::string& text) {
  resources r;
  std::string error;
  EXPECT_FALSE(resources::parse(text, r, error)) << text;
  return error;
}

TEST(resources, parses_all_kinds_with_units) {
  auto r = parse_ok("cpus:4;mem:8GiB;disk:20GiB;gpus:2;ports:[31000-32000]");
  EXPECT_EQ(r.cpus_milli, 4000);
  EXPECT_EQ(r.mem_bytes, int64_t{8} << 30);
  EXPECT_EQ(r.disk_bytes, int64_t{20} << 30);
  EXPECT_EQ(r.gpus, 2);
  ASSERT_EQ(r.ports.size(), 1u);
  EXPECT_EQ(r.port_count(), 1001u);
  EXPECT_EQ(r.to_string(), "cpus:4;mem:8GiB;disk:20GiB;gpus:2;ports:[31000-32000]");
}

TEST(resources, parses_fractions_and_decimal_units) {
  auto r = parse_ok(" cpus : 0.25 ; mem: 1.5GiB ; disk:1GB");
  EXPECT_EQ(r.cpus_milli, 250);
  EXPECT_EQ(r.mem_bytes, 1536LL << 20);  // 1.5 * 1024 MiB
  EXPECT_EQ(r.disk_bytes, 1000LL * 1000 * 1000);
  EXPECT_EQ(r.to_string(), "cpus:0.25;mem:1536MiB;disk:1000000000B");
}

TEST(resources, rejects_bad_input_with_a_named_part) {
  EXPECT_NE(parse_error("mem:512").find("no unit"), std::string::npos);
  EXPECT_NE(parse_error("cpus:abc").find("cpus"), std::string::npos);
  EXPECT_NE(parse_error("cpus:0.0001").find("3 decimals"), std::string::npos);
  EXPECT_NE(parse_error("foo:1").find("unknown resource 'foo'"), std::string::npos);
  EXPECT_NE(parse_error("cpus:1;cpus:2").find("twice"), std::string::npos);
  EXPECT_NE(parse_error("ports:[5-3]").find("bad port range"), std::string::npos);
  EXPECT_NE(parse_error("ports:[1-70000]").find("bad port range"), std::string::npos);
  EXPECT_NE(parse_error("mem:12XB").find("mem: bad number"), std::string::npos);
  EXPECT_NE(parse_error("mem:lots").find("bad size"), std::string::npos);
  EXPECT_NE(parse_error("cpus").find("NAME:VALUE"), std::string::npos);
}

TEST(resources, every_amount_parse_accepts_prints_back_to_text_that_parses) {
  // 1,879,909 TB = 1,835,848,632,812,500 KiB: more than 2^50 in the unit
  // `to_string` picks, which `parse` once refused (found by the flags fuzz
  // target, tests/fuzz/corpus/flags/crash-resources-large-kib).
  for (const char* text : {"mem:1879909TB", "disk:4611686018427387904B", "mem:1835848632812500KiB",
                           "cpus:1125899906842624;mem:3.5TB"}) {
    auto r = parse_ok(text);
    EXPECT_EQ(parse_ok(r.to_string()), r) << text << " -> " << r.to_string();
  }
  EXPECT_EQ(parse_ok("mem:1879909TB").to_string(), "cpus:0;mem:1835848632812500KiB");
  // 2^62 bytes is the most; one byte more is too large, not a bad number.
  EXPECT_NE(parse_error("mem:4611686018427387905B").find("too large"), std::string::npos);
  EXPECT_NE(parse_error("mem:99999999999999999999999KiB").find("too large"), std::string::npos);
  EXPECT_NE(parse_error("mem:4194305TiB").find("too large"), std::string::npos);
}

TEST(resources, arithmetic_is_exact) {
  // 0.1 + 0.2 CPUs is exactly 0.3 CPUs (300 milli-cores), unlike doubles.
  auto a = resources::make(0.1, 0);
  auto b = resources::make(0.2, 0);
  auto c = resources::make(0.3, 0);
  EXPECT_EQ(a + b, c);
  EXPECT_TRUE(c.contains(a + b));
  EXPECT_TRUE((c - a - b).empty());
}

TEST(resources, contains_and_subtract_ports) {
  auto total = parse_ok("cpus:2;mem:1GiB;ports:[100-200,300-400]");
  auto want = parse_ok("cpus:1;mem:512MiB;ports:[150-160,300-300]");
  EXPECT_TRUE(total.contains(want));
  auto rest = total - want;
  EXPECT_EQ(rest.to_string(), "cpus:1;mem:512MiB;ports:[100-149,161-200,301-400]");
  EXPECT_FALSE(rest.contains(want));  // ports 150-160 are gone
  EXPECT_EQ(rest + want, total);      // ranges merge back
  EXPECT_FALSE(total.contains(parse_ok("cpus:3")));
  EXPECT_FALSE(total.contains(parse_ok("ports:[250-250]")));
}

TEST(resources, normalize_merges_adjacent_ranges) {
  auto r = normalize_ports({{10, 20}, {21, 30}, {5, 12}, {40, 41}});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (port_range{5, 30}));
  EXPECT_EQ(r[1], (port_range{40, 41}));
}

TEST(resources, dominant_share_skips_zero_totals) {
  // total: 10 cpus, 100 GiB, no disk; allocated: 2 cpus (0.2), 50 GiB (0.5).
  // The dominant share is max(0.2, 0.5) = 0.5; disk (total 0) is skipped.
  auto total = resources::make(10, 100LL << 30);
  auto alloc = resources::make(2, 50LL << 30, 1LL << 30);
  EXPECT_DOUBLE_EQ(dominant_share(alloc, total), 0.5);
  EXPECT_DOUBLE_EQ(dominant_share(resources{}, total), 0.0);
}

}  // namespace
}  // namespace agora::protocol
