#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace agora::main {

/// Runs `agora policy sim ...` (`args[0]` is `sim`): a deterministic
/// discrete-event simulation of a cluster under a policy, on a virtual clock,
/// with the master's allocation core (docs/policy-sim.md):
///
///     agora policy sim --cluster FILE (--synthetic FILE | --trace FILE)
///         --policy FILE [--schema FILE] [--compare FILE] --until DURATION
///         [--cycle DURATION] --seed N --out DIR [--assert EXPR]...
///
/// Writes `summary.md`, `timeseries.csv` and `metrics.prom` to DIR (with
/// `--compare`, the other policy's timeseries and metrics to `DIR/compare/`)
/// and prints the summary and one line per assertion to `out`. Exit status:
/// 0 done and every assertion holds; 1 an assertion failed, the outputs
/// could not be written, or the simulator's ledger and the allocation core
/// disagree; 2 bad usage or input (the message names the flag, or the
/// file, line and field).
int run_policy_sim(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace agora::main
