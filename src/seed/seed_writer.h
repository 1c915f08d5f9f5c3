// Generates seed SQL: an idempotent psql script that recreates rows, parents before children.
//
// Each row becomes one INSERT ... SELECT FROM (VALUES ...) with ON CONFLICT DO NOTHING; child rows
// find their parent through the parent's unique key (so a person prod already has under another id
// gets their roles on prod's row), and rows of tables without a unique key are skipped when an equal
// row exists (the duplicates of SPEC section 4). Literals go through sql::QuoteLiteral only.
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "snapshot/snapshot_file.h"

namespace dbrefresh {

struct SeedColumn {
  std::string name;
  std::string type;                     // cast for the literal
  int snapshot_index = -1;              // value from the snapshot row, or
  std::optional<std::string> literal;   // a fixed value (config or type default)
};

// How a child's foreign-key column finds its parent row by the parent's unique key.
struct ParentLookup {
  std::string fk_column;                      // in the child (single-column FK)
  std::string parent_table;
  std::string parent_key_column;              // the referenced column (usually the parent's id)
  std::vector<std::string> match_columns;     // the parent's unique key columns
  // Given the child's fk value, the parent's match values from the snapshot (nullopt: not found).
  std::function<std::optional<std::vector<std::optional<std::string>>>(const std::string&)> find_parent;
  std::vector<std::string> match_types;       // casts for the match values
};

struct SeedTable {
  std::string schema;
  std::string table;
  std::vector<SeedColumn> columns;            // written, in order
  bool overriding_system_value = false;
  std::vector<std::string> duplicate_check;   // columns compared to skip equal rows ("" = no check)
  std::vector<ParentLookup> parents;
  std::vector<std::string> sequence_columns;  // identity/serial: their sequence is moved past the rows
};

class SeedWriter {
 public:
  explicit SeedWriter(std::ostream& out) : out_(out) {}
  // Writes the header (what, from where, how to run) and BEGIN.
  void Begin(const std::vector<std::string>& header_lines);
  void Table(const SeedTable& table, long long rows);
  // One row; `reason` (if not empty) is written as a comment above it.
  void Row(const SeedTable& table, const RowValues& snapshot_row, const std::string& reason = "");
  // After a table's rows: moves its identity/serial sequences past the highest value.
  void TableDone(const SeedTable& table);
  void End();

 private:
  std::string ValueExpression(const SeedTable& table, const SeedColumn& column, const RowValues& row) const;
  std::ostream& out_;
};

}  // namespace dbrefresh
