#pragma once

#include <string>
#include <vector>

#include "agora/policy/checker.hpp"
#include "agora/policy/eval_input.hpp"
#include "agora/policy/schema.hpp"
#include "agora/policy/vm.hpp"

namespace agora::policy {

/// A direct AST interpreter kept as the VM's test oracle: slow and simple,
/// it walks the checked AST for every evaluation (no staging, no folding).
/// Rules are numbered as the compiler numbers them (order keys, filters,
/// scores and `every cycle` metrics in declaration order), and values follow
/// the same semantics (bytecode.hpp), so both engines must agree exactly.
class oracle {
 public:
  /// Collects the rules of `checked` (which must be `ok()` and outlive this).
  oracle(const check_result& checked, const schema* schema);

  /// Returns the number of rules.
  size_t rule_count() const { return rules_.size(); }
  /// Evaluates rule `rule` with `role`, `framework` and `agent` bound (the
  /// caller binds `role` to the framework's role for framework and pair
  /// rules). Unsupported constructs evaluate to an error.
  rule_value eval(size_t rule, const eval_input& in, size_t role, size_t framework,
                  size_t agent) const;
  /// Evaluates the filters then the scores for a pair, as `vm::eval_pair`
  /// with `all` set.
  pair_result eval_pair(const eval_input& in, size_t framework, size_t agent) const;

 private:
  struct rule {
    const ast::expr* e;
    bool filter = false, score = false;
    double weight = 1;
  };
  std::vector<rule> rules_;
  std::vector<std::string> resources_;
};

}  // namespace agora::policy
