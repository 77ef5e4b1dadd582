#pragma once

namespace agora::main {

/// Runs `agora local`: a master and N agents in one process (no ZooKeeper),
/// on the same HTTP and actor ports as `agora-master`, so `agora execute`
/// and `agora demo` work against it unchanged; with `--demo`, also a demo
/// framework running a steady trickle of short tasks. With `--masters M`
/// (M > 1), a local ZooKeeper server and M `agora-master --zk` processes
/// instead, which the agents and the demo follow. Runs until SIGINT or
/// SIGTERM, then kills the tasks and exits. Returns the exit status.
int run_local_cluster(int argc, char** argv);

}  // namespace agora::main
