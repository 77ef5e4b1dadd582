#include "agora/protocol/resources.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace agora::protocol {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

/// Parses a non-negative decimal number into an integer count of
/// `1/scale` units, rejecting more fractional digits than `scale` allows
/// and a whole part above `max_whole`.
bool parse_fixed(std::string_view text, int64_t scale, int64_t& out,
                 int64_t max_whole = int64_t{1} << 50) {
  if (text.empty()) return false;
  int64_t whole = 0;
  size_t i = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    if (whole > (max_whole - (text[i] - '0')) / 10) return false;
    whole = whole * 10 + (text[i] - '0');
  }
  if (i == 0) return false;
  int64_t frac = 0;
  int64_t frac_scale = 1;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t digits = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
      if (frac_scale >= scale) return false;  // more precision than representable
      frac = frac * 10 + (text[i] - '0');
      frac_scale *= 10;
    }
    if (digits == 0) return false;
  }
  if (i != text.size()) return false;
  out = whole * scale + frac * (scale / frac_scale);
  return true;
}

struct unit_entry {
  std::string_view name;
  int64_t factor;
};

constexpr unit_entry byte_units[] = {
    {"TiB", int64_t{1} << 40},
    {"GiB", int64_t{1} << 30},
    {"MiB", int64_t{1} << 20},
    {"KiB", int64_t{1} << 10},
    {"TB", 1000LL * 1000 * 1000 * 1000},
    {"GB", 1000LL * 1000 * 1000},
    {"MB", 1000LL * 1000},
    {"KB", 1000},
    {"B", 1},
};

bool parse_ports(std::string_view text, std::vector<port_range>& out, std::string& error) {
  text = trim(text);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
    error = "ports must look like [31000-32000,33000-33010]";
    return false;
  }
  text = text.substr(1, text.size() - 2);
  std::vector<port_range> ranges;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto dash = item.find('-');
    int64_t lo = 0;
    int64_t hi = 0;
    bool ok = dash == std::string_view::npos ? parse_fixed(item, 1, lo) && (hi = lo, true)
                                             : parse_fixed(trim(item.substr(0, dash)), 1, lo) &&
                                                   parse_fixed(trim(item.substr(dash + 1)), 1, hi);
    if (!ok || lo > hi || hi > 65535) {
      error = "bad port range '" + std::string(item) + "' (expected BEGIN-END within 0-65535)";
      return false;
    }
    ranges.push_back({static_cast<uint32_t>(lo), static_cast<uint32_t>(hi)});
  }
  out = normalize_ports(std::move(ranges));
  return true;
}

std::string format_cpus(int64_t milli) {
  std::string s = std::to_string(milli / 1000);
  if (auto frac = milli % 1000; frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(frac));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    s += f;
  }
  return s;
}

/// Returns `a - b` over normalized range sets.
std::vector<port_range> subtract_ports(const std::vector<port_range>& a,
                                       const std::vector<port_range>& b) {
  std::vector<port_range> out;
  for (auto r : a) {
    int64_t lo = r.begin;
    const int64_t hi = r.end;
    for (const auto& cut : b) {
      if (cut.end < lo || cut.begin > hi) continue;
      if (cut.begin > lo) out.push_back({static_cast<uint32_t>(lo), cut.begin - 1});
      lo = int64_t{cut.end} + 1;
      if (lo > hi) break;
    }
    if (lo <= hi) out.push_back({static_cast<uint32_t>(lo), static_cast<uint32_t>(hi)});
  }
  return out;
}

}  // namespace

std::vector<port_range> normalize_ports(std::vector<port_range> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const port_range& x, const port_range& y) { return x.begin < y.begin; });
  std::vector<port_range> out;
  for (const auto& r : ranges) {
    if (!out.empty() && uint64_t{r.begin} <= uint64_t{out.back().end} + 1) {
      out.back().end = std::max(out.back().end, r.end);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

bool parse_bytes(std::string_view text, int64_t& out, std::string& error) {
  text = trim(text);
  for (const auto& u : byte_units) {
    if (text.size() > u.name.size() && text.substr(text.size() - u.name.size()) == u.name) {
      auto number = trim(text.substr(0, text.size() - u.name.size()));
      constexpr int64_t max_bytes = int64_t{1} << 62;
      long double bytes = 0;
      if (number.find('.') == std::string_view::npos) {
        // A whole number, up to the largest amount: what `format_bytes`
        // prints (e.g. `1835848632812500KiB` for 1,879,909 TB) parses back.
        int64_t whole = 0;
        if (!parse_fixed(number, 1, whole, max_bytes)) {
          error = number.empty() || number.find_first_not_of("0123456789") != number.npos
                      ? "bad number '" + std::string(number) + "'"
                      : "'" + std::string(text) + "' is too large";
          return false;
        }
        bytes = static_cast<long double>(whole) * u.factor;
      } else {
        // Up to three fractional digits (`1.5GiB`), rounded down to whole bytes.
        int64_t thousandths = 0;
        if (!parse_fixed(number, 1000, thousandths)) {
          error = "bad number '" + std::string(number) + "'";
          return false;
        }
        bytes = static_cast<long double>(thousandths) * u.factor / 1000.0L;
      }
      if (bytes > static_cast<long double>(max_bytes)) {
        error = "'" + std::string(text) + "' is too large";
        return false;
      }
      out = static_cast<int64_t>(bytes);
      return true;
    }
  }
  int64_t ignored = 0;
  if (parse_fixed(text, 1, ignored)) {
    error = "'" + std::string(text) +
            "' has no unit; write e.g. 512MiB or 4GiB (a bare number is ambiguous)";
  } else {
    error = "bad size '" + std::string(text) + "' (expected a number and a unit such as 512MiB)";
  }
  return false;
}

std::string format_bytes(int64_t bytes) {
  static constexpr unit_entry binary[] = {{"TiB", int64_t{1} << 40},
                                          {"GiB", int64_t{1} << 30},
                                          {"MiB", int64_t{1} << 20},
                                          {"KiB", int64_t{1} << 10}};
  if (bytes != 0) {
    for (const auto& u : binary) {
      if (bytes % u.factor == 0) return std::to_string(bytes / u.factor) + std::string(u.name);
    }
  }
  return std::to_string(bytes) + "B";
}

bool resources::parse(std::string_view text, resources& out, std::string& error) {
  resources r;
  bool seen[5] = {false, false, false, false, false};
  while (!(text = trim(text)).empty()) {
    auto semi = text.find(';');
    auto item = trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (item.empty()) continue;
    auto colon = item.find(':');
    if (colon == std::string_view::npos) {
      error = "expected NAME:VALUE, got '" + std::string(item) + "'";
      return false;
    }
    auto name = trim(item.substr(0, colon));
    auto value = trim(item.substr(colon + 1));
    int index = -1;
    bool ok = true;
    std::string why;
    if (name == "cpus") {
      index = 0;
      ok = parse_fixed(value, 1000, r.cpus_milli);
      if (!ok) why = "bad cpus '" + std::string(value) + "' (a number with at most 3 decimals)";
    } else if (name == "mem") {
      index = 1;
      ok = parse_bytes(value, r.mem_bytes, why);
      if (!ok) why = "mem: " + why;
    } else if (name == "disk") {
      index = 2;
      ok = parse_bytes(value, r.disk_bytes, why);
      if (!ok) why = "disk: " + why;
    } else if (name == "gpus") {
      index = 3;
      ok = parse_fixed(value, 1, r.gpus);
      if (!ok) why = "bad gpus '" + std::string(value) + "' (a whole number)";
    } else if (name == "ports") {
      index = 4;
      ok = parse_ports(value, r.ports, why);
    } else {
      error = "unknown resource '" + std::string(name) + "' (known: cpus, mem, disk, gpus, ports)";
      return false;
    }
    if (!ok) {
      error = why;
      return false;
    }
    if (seen[index]) {
      error = "resource '" + std::string(name) + "' given twice";
      return false;
    }
    seen[index] = true;
  }
  out = std::move(r);
  return true;
}

resources resources::make(double cpus, int64_t mem_bytes, int64_t disk_bytes, int64_t gpus) {
  resources r;
  r.cpus_milli = static_cast<int64_t>(std::llround(cpus * 1000.0));
  r.mem_bytes = mem_bytes;
  r.disk_bytes = disk_bytes;
  r.gpus = gpus;
  return r;
}

std::string resources::to_string() const {
  std::string s = "cpus:" + format_cpus(cpus_milli) + ";mem:" + format_bytes(mem_bytes);
  if (disk_bytes != 0) s += ";disk:" + format_bytes(disk_bytes);
  if (gpus != 0) s += ";gpus:" + std::to_string(gpus);
  if (!ports.empty()) {
    s += ";ports:[";
    for (size_t i = 0; i < ports.size(); ++i) {
      if (i > 0) s += ',';
      s += std::to_string(ports[i].begin) + '-' + std::to_string(ports[i].end);
    }
    s += ']';
  }
  return s;
}

bool resources::empty() const {
  return cpus_milli == 0 && mem_bytes == 0 && disk_bytes == 0 && gpus == 0 && ports.empty();
}

bool resources::contains(const resources& other) const {
  if (other.cpus_milli > cpus_milli || other.mem_bytes > mem_bytes ||
      other.disk_bytes > disk_bytes || other.gpus > gpus)
    return false;
  return subtract_ports(other.ports, ports).empty();
}

std::string resources::limit_error() const {
  if (!non_negative()) return "negative resources";
  if (cpus_milli > max_cpus_milli) return "more than 100000 cpus";
  if (mem_bytes > max_bytes) return "more than 64TiB of mem";
  if (disk_bytes > max_bytes) return "more than 64TiB of disk";
  if (gpus > max_gpus) return "more than 10000 gpus";
  return {};
}

bool resources::non_negative() const {
  return cpus_milli >= 0 && mem_bytes >= 0 && disk_bytes >= 0 && gpus >= 0;
}

resources& resources::operator+=(const resources& other) {
  cpus_milli += other.cpus_milli;
  mem_bytes += other.mem_bytes;
  disk_bytes += other.disk_bytes;
  gpus += other.gpus;
  if (!other.ports.empty()) {
    auto merged = ports;
    merged.insert(merged.end(), other.ports.begin(), other.ports.end());
    ports = normalize_ports(std::move(merged));
  }
  return *this;
}

resources& resources::operator-=(const resources& other) {
  cpus_milli -= other.cpus_milli;
  mem_bytes -= other.mem_bytes;
  disk_bytes -= other.disk_bytes;
  gpus -= other.gpus;
  if (!other.ports.empty()) ports = subtract_ports(ports, other.ports);
  return *this;
}

bool operator==(const resources& a, const resources& b) {
  return a.cpus_milli == b.cpus_milli && a.mem_bytes == b.mem_bytes &&
         a.disk_bytes == b.disk_bytes && a.gpus == b.gpus && a.ports == b.ports;
}

uint64_t resources::port_count() const {
  uint64_t n = 0;
  for (const auto& r : ports) n += r.size();
  return n;
}

double dominant_share(const resources& allocated, const resources& total) {
  double share = 0.0;
  auto consider = [&](int64_t a, int64_t t) {
    if (t > 0) share = std::max(share, static_cast<double>(a) / static_cast<double>(t));
  };
  consider(allocated.cpus_milli, total.cpus_milli);
  consider(allocated.mem_bytes, total.mem_bytes);
  consider(allocated.disk_bytes, total.disk_bytes);
  consider(allocated.gpus, total.gpus);
  return share;
}

}  // namespace agora::protocol
