#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace agora::cli {

/// A small command-line flag parser shared by every Agora binary.
///
/// Flags are `--name=value` or `--name value`; booleans are `--name`,
/// `--name=true|false` or `--no-name`. Values are checked when parsed, and
/// every error names the flag, so binaries can print it and exit with 2.
class flags {
 public:
  /// Creates a parser for `program` (used in usage and error lines).
  explicit flags(std::string program, std::string summary = {});

  /// Registers a flag. `target` keeps its value as the default.
  void add(const std::string& name, std::string* target, const std::string& help);
  void add(const std::string& name, int64_t* target, const std::string& help);
  void add(const std::string& name, uint16_t* target, const std::string& help);
  void add(const std::string& name, double* target, const std::string& help);
  void add(const std::string& name, bool* target, const std::string& help);
  /// A duration such as `500ms`, `1s`, `2min`, `1h` (a unit is required).
  void add(const std::string& name, std::chrono::milliseconds* target, const std::string& help);
  /// A flag whose value `check` validates and stores; `check` returns false
  /// and sets `error` (without the flag name) on a bad value.
  void add_custom(const std::string& name, const std::string& default_text, const std::string& help,
                  std::function<bool(const std::string& value, std::string& error)> check);

  /// Parses `args` (without the program name). Returns false and sets `error`
  /// to a message naming the flag (e.g. `--port: 'abc' is not a valid port`).
  /// Arguments that are not flags go to `positional()`; `--` ends flags.
  bool parse(const std::vector<std::string>& args, std::string& error);

  /// Parses `argv[first..argc)`; on `--help` prints usage and exits 0; on an
  /// error prints `PROGRAM: error: MESSAGE` and a hint to stderr and exits 2.
  void parse_or_exit(int argc, char** argv, int first = 1);

  /// Returns true if `--help` was given.
  bool help_requested() const { return help_; }

  /// Returns the non-flag arguments, in order.
  const std::vector<std::string>& positional() const { return positional_; }

  /// Returns true if the flag was given explicitly on the command line.
  bool given(const std::string& name) const;

  /// Returns the usage text: summary and every flag with default and help.
  std::string usage() const;

 private:
  struct entry {
    std::string name;
    std::string default_text;
    std::string help;
    bool is_bool = false;
    bool given = false;
    std::function<bool(const std::string&, std::string&)> set;
  };
  entry* find(const std::string& name);

  std::string program_;
  std::string summary_;
  std::vector<entry> entries_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

/// Registers `--tls-cert`, `--tls-key` and `--tls-ca`, the files of a
/// process's TLS identity (see `protocol::tls_options`): the same three
/// flags, with the same help, on every binary that connects to or hosts
/// actors or HTTP endpoints.
void add_tls_flags(flags& f, std::string* cert, std::string* key, std::string* ca);

/// The longest duration a flag takes (ten years).
constexpr std::chrono::milliseconds max_duration{int64_t{3650} * 24 * 3600 * 1000};

/// Parses a duration with a unit (`ms`, `s`, `min`, `h`, `d`), e.g. `1.5s`.
bool parse_duration(const std::string& text, std::chrono::milliseconds& out, std::string& error);

/// Splits `host:port`; returns false with an error on a bad form or port.
bool parse_host_port(const std::string& text, std::string& host, uint16_t& port,
                     std::string& error);

}  // namespace agora::cli
