// What preflight found, as data: for the human table, for --json, and for refresh's decision.
//
// The --json shape (stable; new keys may be added, none renamed or removed):
// {
//   "verdict": "ok" | "warnings" | "blocking",
//   "strategy": "schema" | "clean" | "swap",
//   "source": {"connection": "<masked conninfo>", "database": "...", "server_version": "15.18",
//              "server_major": 15, "flyway_latest": "<version or empty>", "migrations": <count>},
//   "target": { ...same keys... },
//   "migrations": {"source_latest": "...", "target_latest": "...",
//                  "only_on_target": [{"version", "description", "script"}],   // Flyway order
//                  "only_on_source": [{"version", "description", "script"}]},
//   "target_only_objects": [{"kind": "table|view|materialized view|sequence|type|function",
//                            "name": "...", "blocks_clean": bool,
//                            "chain": "view active_user_emails -> table users" | "",
//                            "how": ["view definition", ...]}],
//   "column_differences": [{"table": "...", "preserved": bool,
//                           "only_on_source": [{"column", "type", "not_null"}],
//                           "only_on_target": [{"column", "type", "not_null"}],
//                           "type_changed": [{"column", "source_type", "target_type"}]}],
//   "preserved_tables": [{"table": "...", "on_source": bool, "on_target": bool,
//                         "columns": [{"column", "type", "action", "value"?}],   // action: copied |
//                         //  target default | null | config default | type default | unfillable | generated
//                         "dropped": ["<column kept in the snapshot only>"], "warnings": ["..."]}],
//   "tools": [{"program": "pg_dump", "path": "...", "major": 15, "error": ""}],
//   "findings": [{"severity": "info|warning|blocking", "code": "...", "message": "..."}]
// }
// Finding codes: migrations_only_on_target, migrations_only_on_source, target_only_object_blocks_clean,
// target_only_object, preserved_table_missing_on_source, preserved_table_missing_on_target,
// preserved_columns_dropped, preserved_column_defaulted, preserved_rows_to_seed, tool_too_old,
// tool_unavailable.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/schema_model.h"
#include "mapping/column_mapping.h"
#include "preflight/migration_drift.h"
#include "preflight/target_only_objects.h"

namespace dbrefresh {

enum class Severity { kInfo, kWarning, kBlocking };
const char* ToString(Severity severity);

struct Finding {
  Severity severity = Severity::kInfo;
  std::string code;
  std::string message;
};

struct SideSummary {
  std::string connection;      // masked
  std::string database;
  std::string server_version;  // "15.18"
  int server_major = 0;
  std::string flyway_latest;
  size_t migrations = 0;
};

struct ColumnTypeChange {
  std::string column;
  std::string source_type;
  std::string target_type;
};

struct TableColumnDiff {
  std::string table;
  bool preserved = false;
  std::vector<ColumnInfo> only_on_source;
  std::vector<ColumnInfo> only_on_target;
  std::vector<ColumnTypeChange> type_changed;
};

// What restore-users would do with a preserved table once the source's version of it is in place.
struct PreservedTablePlan {
  std::string table;
  bool on_source = false;
  bool on_target = false;
  std::optional<TableMapping> mapping;  // when on both sides
};

struct ToolCheck {
  std::string program;
  std::string path;
  int major = 0;
  std::string error;  // why it could not be checked; "" when major is known
};

struct PreflightReport {
  std::string strategy;
  SideSummary source;
  SideSummary target;
  MigrationDrift drift;
  std::vector<TargetOnlyObject> target_only;
  std::vector<TableColumnDiff> column_differences;
  std::vector<PreservedTablePlan> preserved;
  std::vector<ToolCheck> tools;
  std::vector<Finding> findings;

  Severity verdict() const;  // the most severe finding
  bool blocking() const { return verdict() == Severity::kBlocking; }
  std::vector<const Finding*> Blocking() const;
};

// "ok", "warnings" or "blocking".
std::string VerdictName(Severity verdict);

nlohmann::json ToJson(const PreflightReport& report);

// The human tables, for stdout.
void PrintReport(const PreflightReport& report, std::ostream& out);

}  // namespace dbrefresh
