#pragma once

#include <chrono>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/error.hpp>

#include "agora/auth/challenge.hpp"
#include "agora/protocol/messages.hpp"

namespace agora::auth {

/// The client's side of the challenge-response (challenge.hpp), for any
/// event-based actor `self`: asks `master` for a nonce, answers it with the
/// proof of `secret`, then calls `done()`; on any error, `failed(error)`.
/// Each request waits at most `timeout`. The caller checks in `done` and
/// `failed` whether their answer still matters (a newer connection).
template <class Self, class Done, class Failed>
void authenticate(Self* self, const caf::actor& master, std::chrono::milliseconds timeout,
                  const std::string& principal, const std::string& secret, const std::string& role,
                  Done done, Failed failed) {
  self->request(master, timeout, protocol::auth_start{principal, role})
      .then(
          [self, master, timeout, principal, secret, role, done = std::move(done),
           failed](protocol::auth_challenge& c) mutable {
            protocol::auth_proof p{principal, role, c.nonce,
                                   proof(secret, role, principal, c.nonce)};
            self->request(master, timeout, std::move(p))
                .then([done = std::move(done)](protocol::auth_done&) mutable { done(); },
                      [failed](caf::error& e) mutable { failed(e); });
          },
          [failed](caf::error& e) mutable { failed(e); });
}

}  // namespace agora::auth
