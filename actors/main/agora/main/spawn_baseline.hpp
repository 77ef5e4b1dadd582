#pragma once

namespace agora::main {

/// Returns how many `/bin/true` processes per second this machine starts and
/// reaps, one at a time (`posix_spawn` + `waitpid`), over `count` spawns: the
/// baseline that benchmarks report launch figures against (process creation
/// speed differs a lot between machines).
double spawn_rate(int count);

}  // namespace agora::main
