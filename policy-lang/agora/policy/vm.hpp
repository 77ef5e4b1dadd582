#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "agora/policy/bytecode.hpp"
#include "agora/policy/eval_input.hpp"

namespace agora::policy {

/// The result of a rule read from the VM: a number, bool or symbol, absent,
/// or an error.
struct rule_value {
  enum class state : uint8_t { value, absent, error } st = state::value;
  value_kind kind = value_kind::number;
  double number = 0;  ///< Numbers; bools as 0/1.
  std::string text;   ///< Symbols, resolved to their string.
};

/// The registers one stage instance computed (a role, a framework with its
/// role, an agent), kept by the caller between calls.
struct stage_regs {
  uint16_t s_lo = 0, v_lo = 0;
  std::vector<uint64_t> s;
  std::vector<uint8_t> sf;
  std::vector<res_vec> v;
  std::vector<uint8_t> vf;
};

/// What `eval_pair` decides for one (framework, agent) pair.
struct pair_result {
  bool accepted = true;
  int rejected_by = -1;  ///< Rule index of the first failing filter.
  double score = 0;      ///< Sum of weight x value over the scores (errors add 0).
};

/// The bytecode interpreter. Per cycle: `prepare_cycle`; then per role
/// `prepare_role`, per framework `prepare_framework` (with its role's
/// registers), per agent `prepare_agent`, and `eval_pair` inside the
/// framework x agent loop, which runs only the pair chunk. Not thread-safe:
/// use one `vm` per thread (they can share the program). Runtime errors are
/// values, counted per rule in `errors()`.
class vm {
 public:
  /// Loads `prog` (runs its const chunk). `prog` must not be null.
  explicit vm(std::shared_ptr<const program> prog);

  /// Returns the program.
  const program& prog() const { return *prog_; }

  /// Runs the cycle chunk for `in` (kept by reference until the next call).
  void prepare_cycle(const eval_input& in);
  /// Runs the event chunk for `offer` (the `on offer` metrics' values and
  /// conditions), after `prepare_cycle`; read them with `read`.
  void eval_event(const offer_view& offer);
  /// Returns the cycle chunk's registers as last computed (for callers that
  /// cache values derived from them and must know when they change).
  stage_regs cycle_registers() const { return save(chunk_id::cycle, chunk_id::cycle); }
  /// Returns true if the framework chunk may read role-stage values (a role
  /// field, or a register of the role stage). Conservative: any operand that
  /// could name a role register counts.
  bool framework_reads_role() const;
  /// Returns true if chunk `c` contains a loop (an aggregate, whose value
  /// may depend on every role, framework or agent).
  bool has_loop(chunk_id c) const;
  /// Runs the role chunk for `in.roles[role]`; returns its registers.
  stage_regs prepare_role(size_t role);
  /// Runs the framework chunk for `in.frameworks[framework]`, whose role's
  /// registers are `role`; returns role and framework registers together.
  stage_regs prepare_framework(size_t framework, const stage_regs& role);
  /// Runs the agent chunk for `in.agents[agent]`; returns its registers.
  stage_regs prepare_agent(size_t agent);
  /// Loads `framework` and `agent` registers and runs the pair chunk: the
  /// filters (stopping at the first that rejects, unless `all` is set, which
  /// evaluates every rule, for tests) and the scores.
  pair_result eval_pair(const stage_regs& framework, const stage_regs& agent, bool all = false);

  /// Returns rule `rule`'s value from the registers loaded last (call after
  /// the prepare/eval step of its stage). Does not count errors.
  rule_value read(size_t rule) const;
  /// Returns the runtime error count per rule: filters and scores count in
  /// `eval_pair`; other rules (order keys, metrics, locality) each time the
  /// chunk of their stage runs (pair-stage ones only for accepted pairs).
  const std::vector<uint64_t>& errors() const { return errors_; }
  /// Sets the runtime metering budget: the instructions loop bodies may
  /// run in one chunk run (one prepare/eval call). Static costs bound
  /// everything else; loops depend on collection sizes, which can exceed
  /// the schema's limits. A loop that overruns stops, its aggregate errs
  /// (counted for its rule like any error, and in `cost_overruns()`).
  void set_loop_budget(uint64_t instructions) { loop_budget_ = instructions; }
  /// Returns how many times each chunk ran (by `chunk_id`).
  const std::array<uint64_t, chunk_count>& runs() const { return runs_; }
  /// Returns the static cost (units) of one run of each chunk (loop bodies
  /// counted once).
  const std::array<double, chunk_count>& chunk_costs() const { return chunk_cost_; }
  /// Returns how many loops stopped on the budget (`E_COST`).
  uint64_t cost_overruns() const { return cost_overruns_; }
  /// Returns the string of symbol `id` (program or runtime interned).
  const std::string& symbol(uint64_t id) const { return symbols_[id]; }

 private:
  void run(chunk_id c, bool all);
  void count_errors(chunk_id c);
  stage_regs save(chunk_id from, chunk_id to) const;
  void load(const stage_regs& r);
  uint64_t intern(const std::string& s);
  void load_field(uint8_t a, uint16_t f);
  void load_field_v(uint8_t a, uint16_t f);
  static bool to_list(const std::vector<uint64_t>& items, res_vec& out);
  void split_symbols(uint64_t text, uint64_t sep, std::vector<uint64_t>& out);
  void zones_of_racks(const res_vec& racks, std::vector<uint64_t>& out);

  std::shared_ptr<const program> prog_;
  std::vector<uint64_t> s_;
  std::vector<uint8_t> sf_;
  std::vector<res_vec> v_;
  std::vector<uint8_t> vf_;
  std::vector<uint64_t> errors_;
  std::array<std::vector<size_t>, chunk_count> counted_;  // Non-filter/score rules per stage.
  std::vector<std::string> symbols_;
  std::unordered_map<std::string, uint64_t> symbol_ids_;
  const eval_input* in_ = nullptr;
  const offer_view* offer_ = nullptr;
  size_t role_ = 0, framework_ = 0, agent_ = 0;
  size_t each_ = 0, each_size_ = 0;     // The running ITER loop.
  uint64_t loop_budget_ = 100'000'000;  // About a second of loop work per chunk run.
  uint64_t cost_overruns_ = 0;
  pair_result result_;
  std::array<uint64_t, chunk_count> runs_{};
  std::array<double, chunk_count> chunk_cost_{};
  // `zones_of_racks` index, rebuilt once per `prepare_cycle`.
  bool rack_zones_ready_ = false;
  std::vector<std::pair<uint64_t, uint64_t>> rack_zones_;
  std::set<std::pair<uint64_t, uint64_t>> rack_zone_seen_;
};

}  // namespace agora::policy
