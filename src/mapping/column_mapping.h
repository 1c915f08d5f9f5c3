// Adaptive column mapping (SPEC section 4): how a snapshot's columns land in the target's table.
// Pure logic: no database, no SQLite, so every rule has an instant unit test.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/schema_model.h"

namespace dbrefresh {

enum class ColumnSource {
  kCopy,           // in both: the snapshot's value, cast from text to the target's type
  kTargetDefault,  // target-only with a default (or identity): left to the target
  kNull,           // target-only, nullable, no default: NULL
  kConfigDefault,  // target-only NOT NULL without default: the config's value for it
  kTypeDefault,    // ... else a value fitting its type (false, 0, '', '{}', epoch), with a warning
  kUnfillable,     // ... else nothing fits: every row of the table goes to the seed SQL
  kGenerated,      // generated column: never written
};

const char* ToString(ColumnSource source);

struct ColumnPlan {
  std::string column;                  // the target column
  std::string type;                    // its format_type
  ColumnSource source = ColumnSource::kCopy;
  int snapshot_index = -1;             // kCopy: index into the snapshot's row values
  std::optional<std::string> literal;  // kConfigDefault / kTypeDefault: the value as PostgreSQL text
};

struct TableMapping {
  std::string table;
  std::vector<ColumnPlan> columns;             // every target column, in target order
  std::vector<std::string> snapshot_only;      // dropped now, kept in the snapshot for a later run
  std::vector<std::string> warnings;           // one per defaulted or unfillable column
  bool overriding_system_value = false;        // a copied column is GENERATED ALWAYS AS IDENTITY

  // Columns the INSERT lists explicitly (copy, config default, type default), in target order.
  std::vector<const ColumnPlan*> Written() const;
  std::vector<std::string> Names(ColumnSource source) const;
  bool Unfillable() const;
};

// Plans the mapping of one table. `config_defaults` are the config's "defaults" for the table.
TableMapping PlanTableMapping(const TableInfo& snapshot, const TableInfo& target,
                              const std::map<std::string, std::string>& config_defaults);

// A value fitting a NOT NULL column of this format_type, or nullopt when none is safe
// (uuid, enums, foreign-key-ish types...). Booleans false, numbers 0, text '', arrays '{}',
// json '{}', timestamps and dates the epoch.
std::optional<std::string> TypeDefault(const std::string& format_type);

}  // namespace dbrefresh
