// Adaptive column mapping rules (see column_mapping.h and SPEC section 4).
#include "mapping/column_mapping.h"

namespace dbrefresh {
namespace {

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

int SnapshotIndex(const TableInfo& snapshot, const std::string& column) {
  for (size_t i = 0; i < snapshot.columns.size(); ++i) {
    if (snapshot.columns[i].name == column) return static_cast<int>(i);
  }
  return -1;
}

// Decides a target-only column's value.
ColumnPlan PlanTargetOnly(const ColumnInfo& c, const std::map<std::string, std::string>& config_defaults,
                          const std::string& table, std::vector<std::string>& warnings) {
  ColumnPlan plan{c.name, c.type, ColumnSource::kTargetDefault, -1, std::nullopt};
  if (c.default_expr || c.is_identity()) return plan;
  if (!c.not_null) {
    plan.source = ColumnSource::kNull;
    return plan;
  }
  if (auto it = config_defaults.find(c.name); it != config_defaults.end()) {
    plan.source = ColumnSource::kConfigDefault;
    plan.literal = it->second;
    warnings.push_back(table + "." + c.name + " is NOT NULL without a default in the target: filled with the configured value '" +
                       it->second + "'");
    return plan;
  }
  if (auto value = TypeDefault(c.type)) {
    plan.source = ColumnSource::kTypeDefault;
    plan.literal = value;
    warnings.push_back(table + "." + c.name + " is NOT NULL without a default in the target: filled with '" + *value +
                       "' for type " + c.type + " (set preserve[].defaults." + c.name + " in the config to choose)");
    return plan;
  }
  plan.source = ColumnSource::kUnfillable;
  warnings.push_back(table + "." + c.name + " is NOT NULL without a default and no value fits type " + c.type +
                     ": the rows go to the seed SQL (set preserve[].defaults." + c.name + " in the config)");
  return plan;
}

}  // namespace

const char* ToString(ColumnSource source) {
  switch (source) {
    case ColumnSource::kCopy: return "copied";
    case ColumnSource::kTargetDefault: return "target default";
    case ColumnSource::kNull: return "null";
    case ColumnSource::kConfigDefault: return "config default";
    case ColumnSource::kTypeDefault: return "type default";
    case ColumnSource::kUnfillable: return "unfillable";
    case ColumnSource::kGenerated: return "generated";
  }
  return "?";
}

std::optional<std::string> TypeDefault(const std::string& type) {
  if (type.size() > 2 && type.compare(type.size() - 2, 2, "[]") == 0) return "{}";
  if (type == "boolean") return "false";
  if (type == "smallint" || type == "integer" || type == "bigint" || type == "real" || type == "double precision" ||
      StartsWith(type, "numeric")) {
    return "0";
  }
  if (type == "text" || StartsWith(type, "character varying") || StartsWith(type, "character") || type == "citext") {
    return "";
  }
  if (type == "json" || type == "jsonb") return "{}";
  if (StartsWith(type, "timestamp")) return "1970-01-01 00:00:00+00";
  if (type == "date") return "1970-01-01";
  if (type == "interval") return "0";
  return std::nullopt;
}

TableMapping PlanTableMapping(const TableInfo& snapshot, const TableInfo& target,
                              const std::map<std::string, std::string>& config_defaults) {
  TableMapping mapping;
  mapping.table = target.name;
  for (const auto& c : target.columns) {
    if (c.is_generated()) {
      mapping.columns.push_back({c.name, c.type, ColumnSource::kGenerated, -1, std::nullopt});
      continue;
    }
    int index = SnapshotIndex(snapshot, c.name);
    if (index >= 0) {
      mapping.columns.push_back({c.name, c.type, ColumnSource::kCopy, index, std::nullopt});
      if (c.identity == "a") mapping.overriding_system_value = true;
      continue;
    }
    mapping.columns.push_back(PlanTargetOnly(c, config_defaults, target.name, mapping.warnings));
  }
  for (const auto& c : snapshot.columns) {
    if (!target.FindColumn(c.name)) mapping.snapshot_only.push_back(c.name);
  }
  return mapping;
}

std::vector<const ColumnPlan*> TableMapping::Written() const {
  std::vector<const ColumnPlan*> out;
  for (const auto& c : columns) {
    if (c.source == ColumnSource::kCopy || c.source == ColumnSource::kConfigDefault ||
        c.source == ColumnSource::kTypeDefault) {
      out.push_back(&c);
    }
  }
  return out;
}

std::vector<std::string> TableMapping::Names(ColumnSource source) const {
  std::vector<std::string> out;
  for (const auto& c : columns) {
    if (c.source == source) out.push_back(c.column);
  }
  return out;
}

bool TableMapping::Unfillable() const { return !Names(ColumnSource::kUnfillable).empty(); }

}  // namespace dbrefresh
