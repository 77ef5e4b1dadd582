#pragma once

#include <string>
#include <vector>

namespace agora::main {

/// Returns how many `/bin/true` processes per second this machine starts and
/// reaps, one at a time (`posix_spawn` + `waitpid`), over `count` spawns: the
/// baseline that benchmarks report launch figures against (process creation
/// speed differs a lot between machines).
double spawn_rate(int count);

/// Returns how many processes `argv` (argv[0] a path) per second this
/// machine starts and reaps, one at a time, over `count` spawns; e.g.
/// `/bin/sh -c true`, the shape of a task's command without the agent.
double spawn_rate(int count, const std::vector<std::string>& argv);

}  // namespace agora::main
