#pragma once

/// Everything integration tests need to run real Agora processes: free
/// ports, child processes, a blocking HTTP client, bounded waits, temporary
/// directories, the built binaries' paths and a ZooKeeper fixture.

#include "agora/test/binaries.hpp"
#include "agora/test/cgroups_root.hpp"
#include "agora/test/child_process.hpp"
#include "agora/test/http_client.hpp"
#include "agora/test/ports.hpp"
#include "agora/test/temp_dir.hpp"
#include "agora/test/wait.hpp"
#include "agora/test/zookeeper_server.hpp"
