#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agora/policy/diagnostic.hpp"
#include "agora/policy/source.hpp"
#include "agora/policy/types.hpp"

namespace agora::policy {

/// One field a schema declares (a custom resource, attribute, label or metric).
struct schema_field_info {
  std::string name;
  type field_type;
  double max_age_seconds = 0;  ///< For agent metrics; 0 when not given.
};

/// What the cluster exposes beyond the built-in domain, and the cardinality
/// limits used for cost estimation (POLICY-LANGUAGE.md section 3).
struct schema {
  std::string name;
  int64_t version = 0;
  std::vector<schema_field_info> resources;  ///< Custom resources only.
  std::vector<schema_field_info> agent_attributes;
  std::vector<schema_field_info> agent_metrics;
  std::vector<schema_field_info> framework_labels;
  std::map<std::string, int64_t> limits;  ///< `agents`, `frameworks`, ...

  /// Returns the limits used when no schema is given (the design's defaults).
  static std::map<std::string, int64_t> default_limits();
  /// Returns the names of the limits a schema may set.
  static const std::vector<std::string>& limit_names();
};

/// The result of loading a schema file.
struct schema_result {
  std::optional<policy::schema> value;  ///< Set when there are no errors.
  std::vector<diagnostic> diagnostics;
};

/// Parses and validates a schema file: known sections and types, no
/// duplicates, known limit names.
schema_result load_schema(const source_file& source);

}  // namespace agora::policy
