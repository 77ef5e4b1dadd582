#include "agora/cli/flags.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace agora::cli {

namespace {

bool parse_int(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  out = v;
  return true;
}

bool parse_double(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v)) return false;
  out = v;
  return true;
}

std::string format_ms(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

bool parse_duration(const std::string& text, std::chrono::milliseconds& out, std::string& error) {
  static const std::pair<const char*, double> units[] = {
      {"ms", 1.0}, {"min", 60000.0}, {"s", 1000.0}, {"h", 3600000.0}, {"d", 86400000.0}};
  for (const auto& [unit, factor] : units) {
    std::string u = unit;
    if (text.size() > u.size() && text.compare(text.size() - u.size(), u.size(), u) == 0) {
      double v = 0;
      if (!parse_double(text.substr(0, text.size() - u.size()), v) || !std::isfinite(v) || v < 0)
        break;
      // Beyond this no setting makes sense, and a larger count of
      // milliseconds would overflow the clocks' arithmetic.
      if (v * factor > static_cast<double>(max_duration.count())) {
        error = "'" + text + "' is too long (at most 3650d)";
        return false;
      }
      out = std::chrono::milliseconds{static_cast<int64_t>(std::llround(v * factor))};
      return true;
    }
  }
  error = "'" + text + "' is not a duration (write e.g. 500ms, 1s, 2min)";
  return false;
}

bool parse_host_port(const std::string& text, std::string& host, uint16_t& port,
                     std::string& error) {
  auto colon = text.rfind(':');
  int64_t p = 0;
  if (colon == std::string::npos || colon == 0 || !parse_int(text.substr(colon + 1), p) || p <= 0 ||
      p > 65535) {
    error = "'" + text + "' is not HOST:PORT";
    return false;
  }
  host = text.substr(0, colon);
  port = static_cast<uint16_t>(p);
  return true;
}

flags::flags(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void flags::add(const std::string& name, std::string* target, const std::string& help) {
  entries_.push_back(
      {name, *target, help, false, false, [target](const std::string& v, std::string&) {
         *target = v;
         return true;
       }});
}

void flags::add(const std::string& name, int64_t* target, const std::string& help) {
  entries_.push_back({name, std::to_string(*target), help, false, false,
                      [target](const std::string& v, std::string& err) {
                        if (parse_int(v, *target)) return true;
                        err = "'" + v + "' is not an integer";
                        return false;
                      }});
}

void flags::add(const std::string& name, uint16_t* target, const std::string& help) {
  entries_.push_back({name, std::to_string(*target), help, false, false,
                      [target](const std::string& v, std::string& err) {
                        int64_t x = 0;
                        if (parse_int(v, x) && x >= 0 && x <= 65535) {
                          *target = static_cast<uint16_t>(x);
                          return true;
                        }
                        err = "'" + v + "' is not a port (0-65535)";
                        return false;
                      }});
}

void flags::add(const std::string& name, double* target, const std::string& help) {
  std::ostringstream def;
  def << *target;
  entries_.push_back(
      {name, def.str(), help, false, false, [target](const std::string& v, std::string& err) {
         if (parse_double(v, *target)) return true;
         err = "'" + v + "' is not a number";
         return false;
       }});
}

void flags::add(const std::string& name, bool* target, const std::string& help) {
  entries_.push_back({name, *target ? "true" : "false", help, true, false,
                      [target](const std::string& v, std::string& err) {
                        if (v == "true" || v == "1" || v == "yes") {
                          *target = true;
                        } else if (v == "false" || v == "0" || v == "no") {
                          *target = false;
                        } else {
                          err = "'" + v + "' is not true or false";
                          return false;
                        }
                        return true;
                      }});
}

void flags::add(const std::string& name, std::chrono::milliseconds* target,
                const std::string& help) {
  entries_.push_back({name, format_ms(*target), help, false, false,
                      [target](const std::string& v, std::string& err) {
                        return parse_duration(v, *target, err);
                      }});
}

void flags::add_custom(const std::string& name, const std::string& default_text,
                       const std::string& help,
                       std::function<bool(const std::string&, std::string&)> check) {
  entries_.push_back({name, default_text, help, false, false, std::move(check)});
}

flags::entry* flags::find(const std::string& name) {
  for (auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

bool flags::given(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return e.given;
  return false;
}

bool flags::parse(const std::vector<std::string>& args, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      positional_.push_back(arg);
      continue;
    }
    if (arg == "--help") {
      help_ = true;
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    entry* e = find(name);
    if (e == nullptr && !has_value && name.compare(0, 3, "no-") == 0) {
      if (entry* b = find(name.substr(3)); b != nullptr && b->is_bool) {
        b->given = true;
        std::string ignored;
        b->set("false", ignored);
        continue;
      }
    }
    if (e == nullptr) {
      error = "unknown flag --" + name;
      return false;
    }
    if (!has_value) {
      if (e->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        error = "--" + name + ": missing value";
        return false;
      }
    }
    std::string why;
    if (!e->set(value, why)) {
      error = "--" + name + ": " + why;
      return false;
    }
    e->given = true;
  }
  return true;
}

void flags::parse_or_exit(int argc, char** argv, int first) {
  std::vector<std::string> args(argv + first, argv + argc);
  std::string error;
  if (!parse(args, error)) {
    std::cerr << program_ << ": error: " << error << "\n"
              << "run '" << program_ << " --help' for the list of flags\n";
    std::exit(2);
  }
  if (help_) {
    std::cout << usage();
    std::exit(0);
  }
}

std::string flags::usage() const {
  std::ostringstream out;
  out << "usage: " << program_ << " [flags]\n";
  if (!summary_.empty()) out << "\n" << summary_ << "\n";
  out << "\nflags:\n";
  for (const auto& e : entries_) {
    out << "  --" << e.name;
    if (!e.is_bool) out << "=VALUE";
    out << "\n      " << e.help;
    if (!e.default_text.empty()) out << " (default: " << e.default_text << ")";
    out << "\n";
  }
  return out.str();
}

void add_tls_flags(flags& f, std::string* cert, std::string* key, std::string* ca) {
  f.add("tls-cert", cert,
        "TLS on every actor connection and HTTP endpoint: this process's certificate (PEM); "
        "needs --tls-key and --tls-ca");
  f.add("tls-key", key, "the private key of --tls-cert (PEM, not encrypted)");
  f.add("tls-ca", ca,
        "the CA certificate (PEM) that signed every peer's certificate: peers without one are "
        "refused, in both directions");
}

}  // namespace agora::cli
