#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace agora::protocol {

/// Errors shared by masters, agents and frameworks, carried as `caf::error`
/// values in the category `agora`.
enum class errc : uint8_t {
  none = 0,
  invalid_argument,   ///< A malformed request.
  unknown_framework,  ///< A framework id the master does not know.
  unknown_agent,      ///< An agent id the master does not know.
  unknown_offer,      ///< An offer that does not exist (any more).
  not_subscribed,     ///< A request from a framework that has not subscribed.
  not_leader,         ///< The master is not the leader.
  not_allowed,        ///< The sender may not ask this (e.g. a remote peer).
  unauthenticated,    ///< Authentication failed, or is required and missing.
};

/// The category atom of `errc` errors.
constexpr caf::atom_value errc_category = caf::atom("agora");

/// Returns a readable name, e.g. `unknown_offer`.
std::string to_string(errc x);

/// Returns an error value of category `agora` carrying a message.
caf::error make_error(errc x, std::string message);

}  // namespace agora::protocol
