#pragma once

/// Everything integration tests need to run real Agora processes: free
/// ports, child processes, a blocking HTTP client, bounded waits, temporary
/// directories, the built binaries' paths, a ZooKeeper fixture, a Prometheus
/// server and readers of the monitoring artefacts (dashboards, rules).

#include "agora/test/basp_probe.hpp"
#include "agora/test/binaries.hpp"
#include "agora/test/cgroups_root.hpp"
#include "agora/test/child_process.hpp"
#include "agora/test/http_client.hpp"
#include "agora/test/monitoring_files.hpp"
#include "agora/test/ports.hpp"
#include "agora/test/prometheus_server.hpp"
#include "agora/test/promql.hpp"
#include "agora/test/temp_dir.hpp"
#include "agora/test/tls_files.hpp"
#include "agora/test/wait.hpp"
#include "agora/test/zookeeper_server.hpp"
