#include "agora/main/sim_input.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "agora/cli/flags.hpp"
#include "agora/protocol/resources.hpp"

namespace agora::main::sim {

namespace {

using json = rapidjson::Value;

/// Parse flags for every document: iterative (nesting depth does not grow
/// the stack), so hostile input cannot overflow it.
constexpr unsigned parse_flags = rapidjson::kParseIterativeFlag;

constexpr size_t max_name_chars = 256;
constexpr size_t max_value_chars = 4096;
constexpr double max_cpus = 1e6;

/// Returns `text` quoted for a message, cut to 60 characters.
std::string quoted(const std::string& text) {
  if (text.size() <= 60) return "'" + text + "'";
  return "'" + text.substr(0, 57) + "...'";
}

/// Returns the JSON type of `v` for messages.
const char* type_name(const json& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an array";
  return "an object";
}

/// Returns `prefix.key` (or `key` without a prefix).
std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

/// Returns true if `s` is a name: letters, digits, `_`, `-`, `.`, `:`.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > max_name_chars) return false;
  for (unsigned char ch : s)
    if (!std::isalnum(ch) && ch != '_' && ch != '-' && ch != '.' && ch != ':') return false;
  return true;
}

/// Reads the line and column of byte `offset` in `text` (1-based).
std::pair<size_t, size_t> line_col(const std::string& text, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

/// The fields of one JSON object, checked as they are read: every field
/// read is recorded, so `finish` can name an unknown one.
class object_reader {
 public:
  object_reader(const json& v, std::string path, std::string& error)
      : v_(v), path_(std::move(path)), error_(error) {}

  /// Returns false (with the error set) if the value is not an object.
  bool is_object() {
    if (v_.IsObject()) return true;
    error_ = (path_.empty() ? std::string("the document") : path_) + ": expected an object, not " +
             type_name(v_);
    return false;
  }

  /// Returns the member `key`, or null when absent (recording it as known).
  const json* find(const char* key) {
    known_.insert(key);
    auto it = v_.FindMember(key);
    return it == v_.MemberEnd() ? nullptr : &it->value;
  }

  std::string field(const char* key) const { return join(path_, key); }

  /// Reads a required or optional string.
  bool string(const char* key, std::string& out, bool required, size_t max_chars = max_name_chars) {
    const json* m = find(key);
    if (m == nullptr) return !required || fail(field(key) + ": missing");
    if (!m->IsString()) return fail(field(key) + ": expected a string, not " + type_name(*m));
    std::string s(m->GetString(), m->GetStringLength());
    if (s.size() > max_chars)
      return fail(field(key) + ": longer than " + std::to_string(max_chars) + " characters");
    out = std::move(s);
    return true;
  }

  /// Reads a required id (a name).
  bool id(const char* key, std::string& out) {
    if (!string(key, out, true)) return false;
    if (!valid_name(out))
      return fail(field(key) + ": " + quoted(out) +
                  " is not an id (letters, digits, '_', '-', '.', ':')");
    return true;
  }

  /// Reads an optional role (default `*`).
  bool role(const char* key, std::string& out) {
    if (!string(key, out, false)) return false;
    if (!valid_role(out))
      return fail(field(key) + ": " + quoted(out) +
                  " is not a role (`*` or names separated by '/', e.g. prod/etl)");
    return true;
  }

  /// Reads a required integer in `[lo, hi]`.
  bool integer(const char* key, int64_t lo, int64_t hi, int64_t& out) {
    const json* m = find(key);
    if (m == nullptr) return fail(field(key) + ": missing");
    return integer_value(*m, field(key), lo, hi, out, error_);
  }

  /// Reads a required time with a unit (`30s`).
  bool time(const char* key, millis& out) {
    const json* m = find(key);
    if (m == nullptr) return fail(field(key) + ": missing");
    return time_value(*m, field(key), out, error_);
  }

  /// Reads an optional map of strings (labels, attributes); booleans are
  /// stored as "true"/"false".
  bool strings(const char* key, std::map<std::string, std::string>& out) {
    const json* m = find(key);
    if (m == nullptr) return true;
    std::string path = field(key);
    if (!m->IsObject()) return fail(path + ": expected an object of strings, not " + type_name(*m));
    for (auto& kv : m->GetObject()) {
      std::string k(kv.name.GetString(), kv.name.GetStringLength());
      if (!valid_name(k)) return fail(path + ": " + quoted(k) + " is not a name");
      if (kv.value.IsBool()) {
        out[k] = kv.value.GetBool() ? "true" : "false";
      } else if (kv.value.IsString()) {
        if (kv.value.GetStringLength() > max_value_chars)
          return fail(join(path, k) + ": longer than " + std::to_string(max_value_chars) +
                      " characters");
        out[k] = std::string(kv.value.GetString(), kv.value.GetStringLength());
      } else {
        return fail(join(path, k) + ": expected a string, not " + type_name(kv.value));
      }
    }
    return true;
  }

  /// Reads a required resource object.
  bool resources(const char* key, policy::amounts& out) {
    const json* m = find(key);
    if (m == nullptr) return fail(field(key) + ": missing");
    return resources_value(*m, field(key), out, error_);
  }

  /// Returns false naming the first member that was never asked for.
  bool finish() {
    for (auto& kv : v_.GetObject()) {
      std::string k(kv.name.GetString(), kv.name.GetStringLength());
      if (!known_.count(k))
        return fail(join(path_, k.size() > 60 ? k.substr(0, 57) + "..." : k) + ": unknown field");
    }
    return true;
  }

  bool fail(const std::string& message) {
    error_ = message;
    return false;
  }

  static bool integer_value(const json& m, const std::string& path, int64_t lo, int64_t hi,
                            int64_t& out, std::string& error) {
    if (!m.IsNumber()) {
      error = path + ": expected a whole number, not " + type_name(m);
      return false;
    }
    double d = m.GetDouble();
    if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) ||
        d > static_cast<double>(hi)) {
      error = path + ": expected a whole number from " + std::to_string(lo) + " to " +
              std::to_string(hi);
      return false;
    }
    out = m.IsInt64() ? m.GetInt64() : static_cast<int64_t>(d);
    return true;
  }

  static bool time_value(const json& m, const std::string& path, millis& out, std::string& error) {
    if (m.IsNumber()) {
      error = path + ": a bare number has no unit; write e.g. \"30s\" or \"5min\"";
      return false;
    }
    if (!m.IsString()) {
      error = path + ": expected a duration such as \"30s\", not " + type_name(m);
      return false;
    }
    std::string why;
    if (!parse_time(std::string(m.GetString(), m.GetStringLength()), out, why)) {
      error = path + ": " + why;
      return false;
    }
    return true;
  }

  static bool resources_value(const json& m, const std::string& path, policy::amounts& out,
                              std::string& error) {
    out = policy::amounts{};
    if (!m.IsObject()) {
      error = path + ": expected an object such as {\"cpus\": 2, \"mem\": \"8GiB\"}, not " +
              type_name(m);
      return false;
    }
    for (auto& kv : m.GetObject()) {
      std::string name(kv.name.GetString(), kv.name.GetStringLength());
      std::string field = join(path, valid_name(name) ? name : quoted(name));
      auto& v = kv.value;
      if (name == "cpus" || name == "gpus") {
        if (!v.IsNumber() || !std::isfinite(v.GetDouble()) || v.GetDouble() < 0 ||
            v.GetDouble() > max_cpus) {
          error = field + ": expected a number from 0 to 1000000" +
                  (v.IsString() ? " (plain, without a unit)" : std::string());
          return false;
        }
        double d = v.GetDouble();
        if (name == "gpus" && d != std::floor(d)) {
          error = field + ": GPUs are whole numbers";
          return false;
        }
        out[name == "cpus" ? 0 : 3] = std::llround(d * 1000);
      } else if (name == "mem" || name == "disk") {
        if (v.IsNumber()) {
          error = field + ": a bare number is ambiguous; write e.g. \"256GiB\" or \"512MiB\"";
          return false;
        }
        if (!v.IsString()) {
          error = field + ": expected an amount such as \"8GiB\", not " + type_name(v);
          return false;
        }
        int64_t bytes = 0;
        std::string why;
        if (!protocol::parse_bytes(std::string(v.GetString(), v.GetStringLength()), bytes, why)) {
          error = field + ": " + why;
          return false;
        }
        out[name == "mem" ? 1 : 2] = bytes;
      } else {
        error = field + ": unknown resource (known: cpus, mem, disk, gpus)";
        return false;
      }
    }
    return true;
  }

 private:
  const json& v_;
  std::string path_;
  std::string& error_;
  std::set<std::string> known_;
};

/// Parses `text` as one JSON document; false with `name:line:col` on a
/// syntax error.
bool parse_document(const std::string& name, const std::string& text, rapidjson::Document& doc,
                    std::string& error) {
  doc.Parse<parse_flags>(text.c_str(), text.size());
  if (!doc.HasParseError()) return true;
  auto [line, col] = line_col(text, doc.GetErrorOffset());
  error = name + ":" + std::to_string(line) + ":" + std::to_string(col) +
          ": not valid JSON: " + rapidjson::GetParseError_En(doc.GetParseError());
  return false;
}

/// Returns true if `a` is zero in every resource.
bool nothing(const policy::amounts& a) {
  return std::all_of(a.begin(), a.end(), [](int64_t x) { return x == 0; });
}

bool parse_event(const json& v, input_event& e, std::string& error) {
  object_reader r(v, "", error);
  if (!r.is_object()) return false;
  std::string ev;
  if (!r.time("t", e.t) || !r.string("ev", ev, true)) return false;
  if (ev == "agent_add") {
    e.kind = event_kind::agent_add;
    if (!r.id("id", e.id) || !r.resources("res", e.res) || !r.strings("attrs", e.labels))
      return false;
  } else if (ev == "agent_remove") {
    e.kind = event_kind::agent_remove;
    if (!r.id("id", e.id)) return false;
  } else if (ev == "framework_add") {
    e.kind = event_kind::framework_add;
    e.role = "*";
    if (!r.id("id", e.id) || !r.role("role", e.role) || !r.strings("labels", e.labels))
      return false;
  } else if (ev == "framework_remove") {
    e.kind = event_kind::framework_remove;
    if (!r.id("id", e.id)) return false;
  } else if (ev == "request") {
    e.kind = event_kind::request;
    if (!r.id("fw", e.id) || !r.integer("tasks", 1, max_tasks_per_request, e.tasks) ||
        !r.resources("res", e.res) || !r.time("duration", e.duration))
      return false;
    if (nothing(e.res)) return r.fail("res: a task needs some resource");
  } else {
    return r.fail("ev: unknown event " + quoted(ev) +
                  " (known: agent_add, agent_remove, framework_add, framework_remove, request)");
  }
  return r.finish();
}

bool parse_synthetic_framework(const json& v, const std::string& path, synthetic_framework& f,
                               std::string& error) {
  object_reader r(v, path, error);
  if (!r.is_object() || !r.id("id", f.id) || !r.role("role", f.role) ||
      !r.strings("labels", f.labels) || !r.resources("res", f.res))
    return false;
  if (nothing(f.res)) return r.fail(r.field("res") + ": a task needs some resource");
  const json* rate = r.find("arrivals_per_min");
  if (rate == nullptr) return r.fail(r.field("arrivals_per_min") + ": missing");
  if (!rate->IsNumber() || !std::isfinite(rate->GetDouble()) || rate->GetDouble() < 0 ||
      rate->GetDouble() > 1e6)
    return r.fail(r.field("arrivals_per_min") + ": expected a number from 0 to 1000000");
  f.arrivals_per_min = rate->GetDouble();
  // `tasks` and `duration`: a fixed value or a [MIN, MAX] range.
  const json* tasks = r.find("tasks");
  std::string tf = r.field("tasks");
  if (tasks == nullptr) return r.fail(tf + ": missing");
  if (tasks->IsArray()) {
    if (tasks->Size() != 2) return r.fail(tf + ": expected [MIN, MAX]");
    if (!object_reader::integer_value((*tasks)[0], tf + "[0]", 1, max_tasks_per_request,
                                      f.tasks_min, error) ||
        !object_reader::integer_value((*tasks)[1], tf + "[1]", 1, max_tasks_per_request,
                                      f.tasks_max, error))
      return false;
  } else {
    if (!object_reader::integer_value(*tasks, tf, 1, max_tasks_per_request, f.tasks_min, error))
      return false;
    f.tasks_max = f.tasks_min;
  }
  if (f.tasks_min > f.tasks_max) return r.fail(tf + ": MIN is larger than MAX");
  const json* duration = r.find("duration");
  std::string df = r.field("duration");
  if (duration == nullptr) return r.fail(df + ": missing");
  if (duration->IsArray()) {
    if (duration->Size() != 2) return r.fail(df + ": expected [\"MIN\", \"MAX\"]");
    if (!object_reader::time_value((*duration)[0], df + "[0]", f.duration_min, error) ||
        !object_reader::time_value((*duration)[1], df + "[1]", f.duration_max, error))
      return false;
  } else {
    if (!object_reader::time_value(*duration, df, f.duration_min, error)) return false;
    f.duration_max = f.duration_min;
  }
  if (f.duration_min > f.duration_max) return r.fail(df + ": MIN is longer than MAX");
  return r.finish();
}

/// splitmix64: spreads a seed over 64 bits (seeds per framework).
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Returns a uniform double in [0, 1) from the top 53 bits of a draw.
double unit_draw(uint64_t draw) { return static_cast<double>(draw >> 11) * 0x1.0p-53; }

/// Returns a uniform integer in [lo, hi] (multiply-shift on 32 bits: the bias
/// is below 2^-32 for the ranges accepted here).
int64_t uniform_int(uint64_t draw, int64_t lo, int64_t hi) {
  uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(((draw >> 32) * span) >> 32);
}

}  // namespace

const char* to_string(event_kind k) {
  switch (k) {
    case event_kind::agent_add:
      return "agent_add";
    case event_kind::agent_remove:
      return "agent_remove";
    case event_kind::framework_add:
      return "framework_add";
    case event_kind::framework_remove:
      return "framework_remove";
    case event_kind::request:
      return "request";
  }
  return "?";
}

bool read_input(const std::string& path, std::string& text, std::string& error) {
  // Read in chunks up to the limit: pipes (`<(...)`) work, and an endless
  // file such as /dev/zero stops at the limit.
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot be read";
    return false;
  }
  text.clear();
  char chunk[65536];
  while (in) {
    in.read(chunk, sizeof chunk);
    text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > max_input_bytes) {
      error = path + ": larger than " + std::to_string(max_input_bytes >> 20) + " MiB";
      return false;
    }
  }
  if (in.bad()) {
    error = path + ": cannot be read";
    return false;
  }
  return true;
}

bool parse_time(const std::string& text, millis& out, std::string& error) {
  std::chrono::milliseconds d{0};
  bool parsed = cli::parse_duration(text, d, error);
  // A duration too long for any flag is out of the trace's range too.
  if (!parsed && error.find("too long") == std::string::npos) return false;
  if (!parsed || d.count() < 0 || d.count() > max_millis) {
    error = quoted(text) + " is out of range (0 to 365d)";
    return false;
  }
  out = d.count();
  return true;
}

bool valid_role(const std::string& role) {
  if (role == "*") return true;
  if (role.empty() || role.size() > max_name_chars) return false;
  size_t start = 0;
  for (;;) {
    size_t slash = role.find('/', start);
    std::string seg =
        role.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (unsigned char ch : seg)
      if (!std::isalnum(ch) && ch != '_' && ch != '-' && ch != '.') return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

bool parse_cluster(const std::string& name, const std::string& text, cluster_def& out,
                   std::string& error) {
  out = cluster_def{};
  rapidjson::Document doc;
  if (!parse_document(name, text, doc, error)) return false;
  std::string why;
  auto fail = [&] {
    error = name + ": " + why;
    return false;
  };
  object_reader r(doc, "", why);
  if (!r.is_object()) return fail();
  if (doc.HasMember("agents")) {
    const json* list = r.find("agents");
    if (!list->IsArray())
      return r.fail(std::string("agents: expected an array, not ") + type_name(*list)) || fail();
    if (list->Size() > static_cast<size_t>(max_agents))
      return r.fail("agents: more than " + std::to_string(max_agents)) || fail();
    std::set<std::string> seen;
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      std::string path = "agents[" + std::to_string(i) + "]";
      object_reader a((*list)[i], path, why);
      agent_def def;
      if (!a.is_object() || !a.id("id", def.id) || !a.resources("res", def.res) ||
          !a.strings("attrs", def.attrs) || !a.finish())
        return fail();
      if (!seen.insert(def.id).second)
        return a.fail(a.field("id") + ": agent " + quoted(def.id) + " appears twice") || fail();
      out.agents.push_back(std::move(def));
    }
    return r.finish() || fail();
  }
  int64_t racks = 0, per_rack = 0;
  if (!r.integer("racks", 1, max_agents, racks) ||
      !r.integer("agents_per_rack", 1, max_agents, per_rack))
    return fail();
  if (racks * per_rack > max_agents)
    return r.fail("racks x agents_per_rack: more than " + std::to_string(max_agents) + " agents") ||
           fail();
  policy::amounts res{};
  if (!r.resources("agent", res) || !r.finish()) return fail();
  for (int64_t i = 1; i <= racks * per_rack; ++i) {
    int64_t rack = (i - 1) / per_rack + 1;
    agent_def def;
    def.id = "a" + std::to_string(i);
    def.res = res;
    def.attrs["rack"] = "r" + std::to_string(rack);
    def.attrs["zone"] = "z" + std::to_string((rack + 1) / 2);
    out.agents.push_back(std::move(def));
  }
  return true;
}

bool parse_trace(const std::string& name, const std::string& text, std::vector<input_event>& out,
                 std::string& error) {
  out.clear();
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string origin = name + ":" + std::to_string(line_no);
    rapidjson::Document doc;
    doc.Parse<parse_flags>(line.c_str(), line.size());
    if (doc.HasParseError()) {
      error = origin + ":" + std::to_string(doc.GetErrorOffset() + 1) +
              ": not valid JSON: " + rapidjson::GetParseError_En(doc.GetParseError());
      return false;
    }
    input_event e;
    std::string why;
    if (!parse_event(doc, e, why)) {
      error = origin + ": " + why;
      return false;
    }
    if (out.size() >= max_events) {
      error = origin + ": more than " + std::to_string(max_events) + " events";
      return false;
    }
    e.origin = std::move(origin);
    out.push_back(std::move(e));
  }
  return true;
}

bool parse_synthetic(const std::string& name, const std::string& text, workload_def& out,
                     std::string& error) {
  out = workload_def{};
  rapidjson::Document doc;
  if (!parse_document(name, text, doc, error)) return false;
  std::string why;
  auto fail = [&] {
    error = name + ": " + why;
    return false;
  };
  object_reader r(doc, "", why);
  if (!r.is_object()) return fail();
  const json* list = r.find("frameworks");
  if (list == nullptr) return r.fail("frameworks: missing") || fail();
  if (!list->IsArray())
    return r.fail(std::string("frameworks: expected an array, not ") + type_name(*list)) || fail();
  if (list->Size() > 10000) return r.fail("frameworks: more than 10000") || fail();
  std::set<std::string> seen;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    synthetic_framework f;
    std::string path = "frameworks[" + std::to_string(i) + "]";
    if (!parse_synthetic_framework((*list)[i], path, f, why)) return fail();
    if (!seen.insert(f.id).second)
      return r.fail(path + ".id: framework " + quoted(f.id) + " appears twice") || fail();
    out.frameworks.push_back(std::move(f));
  }
  return r.finish() || fail();
}

bool generate_workload(const workload_def& w, millis until, uint64_t seed,
                       std::vector<input_event>& out, std::string& error) {
  out.clear();
  for (auto& f : w.frameworks) {
    input_event add;
    add.t = 0;
    add.kind = event_kind::framework_add;
    add.id = f.id;
    add.role = f.role;
    add.labels = f.labels;
    add.origin = "synthetic framework " + f.id;
    out.push_back(std::move(add));
  }
  // Refuse early when the expected number of requests is too large.
  double expected = 0;
  for (auto& f : w.frameworks)
    expected += f.arrivals_per_min * static_cast<double>(until) / 60000.0;
  auto too_many = [&] {
    error = "the synthetic workload makes more than " + std::to_string(max_events) +
            " events before --until (lower arrivals_per_min or --until)";
    return false;
  };
  if (expected > static_cast<double>(max_events)) return too_many();
  for (size_t i = 0; i < w.frameworks.size(); ++i) {
    auto& f = w.frameworks[i];
    if (!(f.arrivals_per_min > 0)) continue;
    std::mt19937_64 rng(splitmix64(seed ^ splitmix64(i + 1)));
    const double mean_gap_ms = 60000.0 / f.arrivals_per_min;
    double t = 0;
    for (;;) {
      // Exponential gap: -ln(1 - U) * mean, U in [0, 1).
      t += -std::log1p(-unit_draw(rng())) * mean_gap_ms;
      if (!(t < static_cast<double>(until))) break;
      if (out.size() >= max_events) return too_many();
      input_event e;
      e.t = static_cast<millis>(t);
      e.kind = event_kind::request;
      e.id = f.id;
      e.res = f.res;
      e.tasks = uniform_int(rng(), f.tasks_min, f.tasks_max);
      e.duration = uniform_int(rng(), f.duration_min, f.duration_max);
      out.push_back(std::move(e));
    }
  }
  // Framework additions first, then requests by time (ties: framework order).
  std::stable_sort(out.begin(), out.end(),
                   [](const input_event& a, const input_event& b) { return a.t < b.t; });
  return true;
}

bool check_events(const cluster_def& cluster, const std::vector<input_event>& events, millis until,
                  std::string& error) {
  std::vector<const input_event*> order;
  for (auto& e : events)
    if (e.t < until) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(),
                   [](const input_event* a, const input_event* b) { return a->t < b->t; });
  std::set<std::string> agents, frameworks;
  for (auto& a : cluster.agents) agents.insert(a.id);
  for (auto* e : order) {
    auto fail = [&](const std::string& what) {
      error = e->origin + ": " + what;
      return false;
    };
    switch (e->kind) {
      case event_kind::agent_add:
        if (!agents.insert(e->id).second)
          return fail("id: agent " + quoted(e->id) + " is already present (remove it first)");
        break;
      case event_kind::agent_remove:
        if (!agents.erase(e->id)) return fail("id: no agent " + quoted(e->id) + " is present");
        break;
      case event_kind::framework_add:
        if (!frameworks.insert(e->id).second)
          return fail("id: framework " + quoted(e->id) + " is already present");
        break;
      case event_kind::framework_remove:
        if (!frameworks.erase(e->id))
          return fail("id: no framework " + quoted(e->id) + " is present");
        break;
      case event_kind::request:
        if (!frameworks.count(e->id))
          return fail("fw: no framework " + quoted(e->id) +
                      " is present (a framework_add must come first)");
        break;
    }
  }
  return true;
}

}  // namespace agora::main::sim
