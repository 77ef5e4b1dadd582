#include "agora/auth/challenge.hpp"

#include <set>

#include <gtest/gtest.h>

namespace agora::auth {
namespace {

TEST(challenge, the_proof_is_hmac_sha256_of_the_documented_message) {
  // printf 'agora-auth-v1\nframework\nops\n00ff\n' | openssl dgst -sha256 -hmac s3cret
  // (docs/security.md: what a client in another language computes).
  EXPECT_EQ(proof("s3cret", "framework", "ops", "00ff"),
            "9e252a9b96bb6fefe29d87cb1ecc6c3fb0a97fa4b1d335441a1a145d78ce3dc0");
}

TEST(challenge, every_input_changes_the_proof) {
  auto base = proof("s3cret", "framework", "ops", "00ff");
  EXPECT_NE(proof("s3creT", "framework", "ops", "00ff"), base);
  EXPECT_NE(proof("s3cret", "agent", "ops", "00ff"), base);
  EXPECT_NE(proof("s3cret", "framework", "opz", "00ff"), base);
  EXPECT_NE(proof("s3cret", "framework", "ops", "00fe"), base);
  // Fields cannot slide into each other.
  EXPECT_NE(proof("s3cret", "framework", "op", "s\n00ff"), base);
}

TEST(challenge, nonces_are_fresh_hex) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto n = make_nonce();
    ASSERT_EQ(n.size(), 64u);
    EXPECT_EQ(n.find_first_not_of("0123456789abcdef"), std::string::npos) << n;
    EXPECT_TRUE(seen.insert(n).second) << "nonce repeated: " << n;
  }
}

TEST(challenge, same_proof_compares_whole_strings) {
  auto p = proof("k", "agent", "a", make_nonce());
  EXPECT_TRUE(same_proof(p, p));
  auto flipped = p;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_FALSE(same_proof(p, flipped));
  EXPECT_FALSE(same_proof(p, p.substr(0, 63)));
  EXPECT_FALSE(same_proof(p, ""));
  EXPECT_FALSE(same_proof(p, p + "0"));
}

}  // namespace
}  // namespace agora::auth
