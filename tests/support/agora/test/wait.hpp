#pragma once

#include <chrono>
#include <functional>

namespace agora::test {

/// Returns true as soon as `pred` holds, polling it every `poll`; returns
/// false if it still does not hold after `timeout` (checked once more at the
/// deadline). Tests wait for events with this, never with fixed sleeps.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(20));

}  // namespace agora::test
