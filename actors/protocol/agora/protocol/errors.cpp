#include "agora/protocol/errors.hpp"

#include <caf/make_message.hpp>

namespace agora::protocol {

std::string to_string(errc x) {
  switch (x) {
    case errc::none:
      return "none";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::unknown_framework:
      return "unknown_framework";
    case errc::unknown_agent:
      return "unknown_agent";
    case errc::unknown_offer:
      return "unknown_offer";
    case errc::not_subscribed:
      return "not_subscribed";
    case errc::not_leader:
      return "not_leader";
    case errc::not_allowed:
      return "not_allowed";
    case errc::unauthenticated:
      return "unauthenticated";
  }
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

caf::error make_error(errc x, std::string message) {
  return caf::error{static_cast<uint8_t>(x), errc_category, caf::make_message(std::move(message))};
}

}  // namespace agora::protocol
