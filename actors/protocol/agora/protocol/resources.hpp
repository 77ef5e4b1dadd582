#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace agora::protocol {

/// An inclusive range of TCP/UDP ports, `[begin, end]`.
struct port_range {
  uint32_t begin = 0;
  uint32_t end = 0;

  /// Returns the number of ports in the range.
  uint64_t size() const { return uint64_t{end} - begin + 1; }
  friend bool operator==(const port_range& a, const port_range& b) {
    return a.begin == b.begin && a.end == b.end;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, port_range& x) {
  return f(caf::meta::type_name("port_range"), x.begin, x.end);
}

/// A vector of resources: the scalars `cpus`, `mem`, `disk`, `gpus` and a set
/// of `ports` ranges.
///
/// Arithmetic is exact: CPUs are kept in thousandths of a core (as Mesos
/// rounds to three decimals), memory and disk in bytes, GPUs as a count, so
/// `0.1 + 0.2` CPUs fits into `0.3` CPUs. Port ranges are kept sorted,
/// disjoint and non-adjacent (normalized), so equality is structural.
class resources {
 public:
  /// CPUs in thousandths of a core (`1500` = 1.5 cores).
  int64_t cpus_milli = 0;
  /// Memory in bytes.
  int64_t mem_bytes = 0;
  /// Disk in bytes.
  int64_t disk_bytes = 0;
  /// Whole GPUs.
  int64_t gpus = 0;
  /// Normalized port ranges.
  std::vector<port_range> ports;

  /// Returns resources from their text form, e.g.
  /// `cpus:4;mem:8GiB;disk:20GiB;gpus:1;ports:[31000-32000,33000-33100]`.
  /// Memory and disk need a unit (`B`, `KiB`, `MiB`, `GiB`, `TiB`, or the
  /// decimal `KB`, `MB`, `GB`, `TB`): a bare number is ambiguous. On failure
  /// returns false and sets `error` to a message naming the bad part.
  static bool parse(std::string_view text, resources& out, std::string& error);

  /// Convenience constructors for tests and clients.
  static resources make(double cpus, int64_t mem_bytes, int64_t disk_bytes = 0, int64_t gpus = 0);

  /// Returns CPUs as a floating-point number of cores (for display and shares).
  double cpus() const { return static_cast<double>(cpus_milli) / 1000.0; }

  /// Returns the text form accepted by `parse`.
  std::string to_string() const;

  /// Returns true if every component is zero and there are no ports.
  bool empty() const;

  /// Returns true if `other` fits into this (component-wise `<=`, ports a subset).
  bool contains(const resources& other) const;

  /// Returns true if no component is negative (after a subtraction).
  bool non_negative() const;

  /// The most one agent (or task) may hold of each scalar, so that the sums
  /// over a cluster of 100,000 agents stay far from overflowing.
  static constexpr int64_t max_cpus_milli = int64_t{100000} * 1000;  // 100,000 cores
  static constexpr int64_t max_bytes = int64_t{1} << 46;             // 64 TiB
  static constexpr int64_t max_gpus = 10000;

  /// Returns "" if every component is within the limits above (and not
  /// negative), else which one is not.
  std::string limit_error() const;

  /// Adds component-wise; ports are unioned.
  resources& operator+=(const resources& other);
  /// Subtracts component-wise; ports are removed. Callers check `contains` first
  /// where a negative result would be a bug.
  resources& operator-=(const resources& other);

  friend resources operator+(resources a, const resources& b) { return a += b; }
  friend resources operator-(resources a, const resources& b) { return a -= b; }
  friend bool operator==(const resources& a, const resources& b);
  friend bool operator!=(const resources& a, const resources& b) { return !(a == b); }

  /// Returns the number of ports in all ranges.
  uint64_t port_count() const;
};

/// Returns the dominant share of `allocated` in `total`: the largest ratio
/// `allocated.x / total.x` over the scalars (cpus, mem, disk, gpus), skipping
/// scalars whose total is zero (as Mesos' DRF sorter does). Ports are not
/// counted.
double dominant_share(const resources& allocated, const resources& total);

/// Parses a byte quantity with a unit (`512MiB`, `4GiB`, `100B`, `1.5GiB`).
/// Returns false and sets `error` when the unit is missing or unknown.
bool parse_bytes(std::string_view text, int64_t& out, std::string& error);

/// Returns bytes in the largest binary unit that represents them exactly
/// (`8GiB`, `1536MiB`, `100B`).
std::string format_bytes(int64_t bytes);

/// Normalizes port ranges: sorted, merged where overlapping or adjacent.
std::vector<port_range> normalize_ports(std::vector<port_range> ranges);

/// Returns the text form of `x` (used by CAF when printing messages).
inline std::string to_string(const resources& x) { return x.to_string(); }

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resources& x) {
  return f(caf::meta::type_name("resources"), x.cpus_milli, x.mem_bytes, x.disk_bytes, x.gpus,
           x.ports);
}

}  // namespace agora::protocol
