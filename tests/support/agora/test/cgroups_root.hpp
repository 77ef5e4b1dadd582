#pragma once

#include <string>

namespace agora::test {

/// The `--cgroups-root` for agents that this test process starts
/// (`agora-test-<pid>`), so that their tasks' cgroups stay apart from real
/// agents' and from other tests running at the same time.
std::string test_cgroups_root();

/// Kills what is left in this test process's cgroups root (in every mounted
/// hierarchy) and removes it: agents killed by a test leave their cgroups
/// behind. Does nothing where there are no cgroups.
void remove_test_cgroups();

}  // namespace agora::test
