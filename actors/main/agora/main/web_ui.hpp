#pragma once

#include <string>

namespace agora::main {

/// Returns the single-page web UI served on `/`: it polls `/state` and shows
/// cluster totals, agents, frameworks, tasks and role shares.
const std::string& web_ui_html();

}  // namespace agora::main
