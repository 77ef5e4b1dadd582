// Authentication of frameworks and agents (agora/auth/challenge.hpp): the
// master's side of the challenge-response, the principals bound to the
// actors that proved them, and the wait imposed on a node after failures.

#include "agora/master/detail/master_ops.hpp"

#include <algorithm>

#include "agora/auth/challenge.hpp"
#include "agora/protocol/errors.hpp"

namespace agora::master::detail {

using namespace protocol;

namespace {

/// How long a challenge may wait for its proof.
constexpr int64_t challenge_ttl_ns = int64_t{10} * 1000 * 1000 * 1000;
/// Challenges outstanding at most (a peer starting many and never
/// answering cannot grow the master's memory without bound).
constexpr size_t max_challenges = 10000;
/// After the n-th failure in a row, a node waits 250 ms * 2^(n-1) (at most
/// 30 s) before it may try again.
constexpr int64_t first_wait_ns = int64_t{250} * 1000 * 1000;
constexpr int64_t max_wait_ns = int64_t{30} * 1000 * 1000 * 1000;

std::string why_bad_name(const std::string& what, const std::string& x) {
  if (x.empty()) return what + " is empty";
  if (x.size() > 256) return what + " is longer than 256 bytes";
  for (char c : x)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return what + " holds a control character";
  return {};
}

caf::error refuse(master_ptr self, const std::string& outcome, const std::string& message) {
  ++self->state.authentications[outcome];
  mark_dirty(self);  // the counters in /state
  log(self, "authentication from " + sender_text(self) + " refused: " + message);
  return make_error(errc::unauthenticated, message);
}

}  // namespace

caf::result<auth_challenge> handle_auth_start(master_ptr self, auth_start& m) {
  auto& st = self->state;
  const auto& sender = self->current_sender();
  if (!sender) return make_error(errc::invalid_argument, "authentication without a sender");
  if (!st.config.credentials)
    return refuse(self, "failure",
                  "this master has no credentials (--credentials) and cannot authenticate");
  if (m.role != "framework" && m.role != "agent")
    return make_error(errc::invalid_argument, "role must be 'framework' or 'agent'");
  if (auto why = why_bad_name("the principal", m.principal); !why.empty())
    return make_error(errc::invalid_argument, why);
  auto now = now_ns();
  auto throttle = st.auth_failures_by_node.find(sender->node());
  if (throttle != st.auth_failures_by_node.end() && now < throttle->second.next_attempt_ns)
    return refuse(self, "throttled",
                  "too many failed attempts from this node: retry in " +
                      std::to_string((throttle->second.next_attempt_ns - now) / 1000000 + 1) +
                      " ms");
  if (st.challenges.size() >= max_challenges) {
    for (auto it = st.challenges.begin(); it != st.challenges.end();)
      it = it->second.expires_ns < now ? st.challenges.erase(it) : std::next(it);
    if (st.challenges.size() >= max_challenges)
      return refuse(self, "throttled", "too many authentications in progress");
  }
  auto& pending = st.challenges[sender->address()];
  pending = {m.principal, m.role, auth::make_nonce(), now + challenge_ttl_ns};
  return auth_challenge{pending.nonce};
}

caf::result<auth_done> handle_auth_proof(master_ptr self, auth_proof& m) {
  auto& st = self->state;
  const auto& sender = self->current_sender();
  if (!sender) return make_error(errc::invalid_argument, "authentication without a sender");
  auto it = st.challenges.find(sender->address());
  if (it == st.challenges.end() || it->second.nonce != m.nonce ||
      it->second.principal != m.principal || it->second.role != m.role ||
      it->second.expires_ns < now_ns()) {
    if (it != st.challenges.end()) st.challenges.erase(it);
    return refuse(self, "failure", "no challenge outstanding for this proof: start again");
  }
  st.challenges.erase(it);
  const std::string* secret =
      st.config.credentials ? st.config.credentials->secret(m.principal) : nullptr;
  // An unknown principal costs the same work as a wrong secret, and gets
  // the same answer: a peer learns nothing about which principals exist.
  auto expected =
      auth::proof(secret ? *secret : std::string(64, '\0'), m.role, m.principal, m.nonce);
  if (!auth::same_proof(expected, m.proof) || secret == nullptr) {
    auto& t = st.auth_failures_by_node[sender->node()];
    ++t.failures;
    auto wait = first_wait_ns << std::min<int64_t>(t.failures - 1, 20);
    t.next_attempt_ns = now_ns() + std::min(wait, max_wait_ns);
    return refuse(self, "failure",
                  "authentication of principal '" + m.principal + "' as " + m.role + " failed");
  }
  st.auth_failures_by_node.erase(sender->node());
  ++st.authentications["success"];
  mark_dirty(self);
  st.authenticated[sender->address()] = {m.principal, m.role};
  // Forgotten when the peer's connection drops (the down handler).
  self->monitor(caf::actor_cast<caf::actor>(sender));
  log(self, sender_text(self) + " authenticated as " + m.role + " principal '" + m.principal + "'");
  return auth_done{m.principal};
}

const master_state::peer_principal* authenticated_peer(master_ptr self, const char* role) {
  const auto& sender = self->current_sender();
  if (!sender) return nullptr;
  auto it = self->state.authenticated.find(sender->address());
  if (it == self->state.authenticated.end() || it->second.role != role) return nullptr;
  return &it->second;
}

caf::error refuse_unauthenticated(master_ptr self, const char* what, const char* flag) {
  ++self->state.authentications["missing"];
  mark_dirty(self);
  std::string message = std::string("this master requires ") + what + " authentication (" + flag +
                        "): give a principal and secret (--principal, --secret-file)";
  log(self, std::string(what) + " from " + sender_text(self) + " refused: not authenticated");
  return make_error(errc::unauthenticated, message);
}

void forget_peer(master_ptr self, const caf::actor_addr& who) {
  self->state.authenticated.erase(who);
  self->state.challenges.erase(who);
}

}  // namespace agora::master::detail
