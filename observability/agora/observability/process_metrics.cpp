#include "agora/observability/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "agora/observability/http_server.hpp"

#ifndef AGORA_VERSION
#define AGORA_VERSION "unknown"
#endif
#ifndef AGORA_REVISION
#define AGORA_REVISION "unknown"
#endif

namespace agora::observability {
namespace {

void gauge(prometheus::Registry& reg, const char* name, const char* help, double value) {
  prometheus::BuildGauge().Name(name).Help(help).Register(reg).Add({}).Set(value);
}

/// The fields of /proc/self/stat after the command name, split on spaces:
/// element 0 is field 3 (`state`) of proc(5).
std::vector<std::string> stat_fields() {
  std::ifstream in{"/proc/self/stat"};
  std::string line;
  std::getline(in, line);
  // The command name is in parentheses and may hold spaces: skip to the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest{line.substr(close + 1)};
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

/// Field `n` (1-based, as in proc(5)) of `fields` as a number.
std::optional<double> field(const std::vector<std::string>& fields, size_t n) {
  if (n < 3 || n - 3 >= fields.size()) return std::nullopt;
  try {
    return std::stod(fields[n - 3]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// The boot time in Unix seconds (`btime` of /proc/stat).
std::optional<double> boot_time() {
  std::ifstream in{"/proc/stat"};
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double t = 0;
      if (in >> t) return t;
      return std::nullopt;
    }
    std::getline(in, key);
  }
  return std::nullopt;
}

std::optional<double> open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double n = 0;
  while (auto* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

void add_process_metrics(prometheus::Registry& reg) {
  auto fields = stat_fields();
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  auto utime = field(fields, 14), stime = field(fields, 15);
  if (utime && stime && ticks > 0)
    prometheus::BuildCounter()
        .Name("process_cpu_seconds_total")
        .Help("Total user and system CPU time spent in seconds")
        .Register(reg)
        .Add({})
        .Increment((*utime + *stime) / ticks);
  if (auto rss = field(fields, 24))
    gauge(reg, "process_resident_memory_bytes", "Resident memory size in bytes", *rss * page);
  if (auto vsize = field(fields, 23))
    gauge(reg, "process_virtual_memory_bytes", "Virtual memory size in bytes", *vsize);
  if (auto threads = field(fields, 20))
    gauge(reg, "process_threads", "Number of OS threads in the process", *threads);
  auto start = field(fields, 22);
  auto boot = boot_time();
  if (start && boot && ticks > 0)
    gauge(reg, "process_start_time_seconds",
          "Start time of the process since unix epoch in seconds", *boot + *start / ticks);
  if (auto fds = open_fds())
    gauge(reg, "process_open_fds", "Number of open file descriptors", *fds);
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    gauge(reg, "process_max_fds", "Maximum number of open file descriptors",
          static_cast<double>(lim.rlim_cur));
}

void add_build_info(prometheus::Registry& reg) {
  prometheus::BuildGauge()
      .Name("agora_build_info")
      .Help("The version and git revision of this build (value 1)")
      .Register(reg)
      .Add({{"version", AGORA_VERSION}, {"revision", AGORA_REVISION}})
      .Set(1);
}

std::vector<prometheus::MetricFamily> daemon_families(const http_server& http,
                                                      std::uint64_t refused_actor_connections) {
  prometheus::Registry reg;
  add_process_metrics(reg);
  add_build_info(reg);
  prometheus::BuildCounter()
      .Name("agora_actor_connections_refused_total")
      .Help("Actor connections closed for announcing a message above the transport's limits")
      .Register(reg)
      .Add({})
      .Increment(static_cast<double>(refused_actor_connections));
  auto families = reg.Collect();
  auto requests = http.collect_metrics();
  families.insert(families.end(), requests.begin(), requests.end());
  return families;
}

std::string build_description() { return std::string(AGORA_VERSION) + " (" + AGORA_REVISION + ")"; }

}  // namespace agora::observability
