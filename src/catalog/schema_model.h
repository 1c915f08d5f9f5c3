// Plain descriptions of tables, columns and constraints, shared by the catalog reader,
// the snapshot file and the column mapping. No database code here.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dbrefresh {

struct ColumnInfo {
  std::string name;
  int position = 0;                          // attnum
  std::string type;                          // format_type(atttypid, atttypmod)
  bool not_null = false;
  std::optional<std::string> default_expr;   // pg_get_expr(adbin, adrelid); absent for generated
  std::string identity;                      // "" | "a" (ALWAYS) | "d" (BY DEFAULT)
  std::optional<std::string> generated_expr; // set for GENERATED ALWAYS AS (...) STORED
  bool is_identity() const { return !identity.empty(); }
  bool is_generated() const { return generated_expr.has_value(); }
};

struct ConstraintInfo {
  std::string name;
  char kind = 'p';                           // p primary key, u unique, f foreign key, c check
  std::vector<std::string> columns;
  std::string definition;                    // pg_get_constraintdef
  std::string ref_table;                     // for 'f': referenced table (same schema assumed unless qualified)
  std::vector<std::string> ref_columns;      // for 'f'
};

struct TableInfo {
  std::string schema;
  std::string name;
  std::vector<ColumnInfo> columns;           // by position
  std::vector<ConstraintInfo> constraints;

  const ColumnInfo* FindColumn(const std::string& column) const;
  const ConstraintInfo* PrimaryKey() const;
  // Unique constraints other than the primary key, in catalog order.
  std::vector<const ConstraintInfo*> UniqueKeys() const;
  std::vector<const ConstraintInfo*> ForeignKeys() const;
};

}  // namespace dbrefresh
