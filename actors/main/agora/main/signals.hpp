#pragma once

namespace agora::main {

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// creates afterwards; call first thing in `main`, before any actor system.
void block_termination_signals();

/// Waits until SIGINT or SIGTERM arrives (after `block_termination_signals`);
/// returns the signal number.
int wait_for_termination_signal();

}  // namespace agora::main
