// The snapshot file (SPEC section 3): a self-describing SQLite database of preserved tables.
//
// Layout (documented in the README for people with sqlite3):
//   dbrefresh_meta(key, value)                 format_version, created_at, source_*, flyway_*, run_id, ...
//   dbrefresh_tables(table_name, position, rows_table, row_count)
//   dbrefresh_columns(table_name, position, column_name, type, not_null, default_expr, identity, generated_expr)
//   dbrefresh_constraints(table_name, constraint_name, kind, columns, definition, ref_table, ref_columns)
//   rows_<table>(<the table's columns, all TEXT>)   PostgreSQL text representation, NULL as NULL
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/schema_model.h"
#include "snapshot/sqlite_db.h"

namespace dbrefresh {

// Version 2 adds, as metadata: run_id (the refresh run that took it), flyway_versions (the JSON
// list of every successful versioned migration, for the post-check's set comparison) and, once a
// refresh brought it up to date before clearing the target, caught_up_at / caught_up_rows.
// Version-1 files stay readable: without flyway_versions the post-check compares the latest
// version only, and without run_id a file cannot be the one a refresh mark names.
constexpr int kSnapshotFormatVersion = 2;
constexpr int kOldestReadableFormatVersion = 1;

using RowValues = std::vector<std::optional<std::string>>;

class FlushBehind;

struct SnapshotTable {
  TableInfo info;
  std::string rows_table;
  long long row_count = 0;
};

// Writes a snapshot to `<path>.partial-<pid>` (mode 0600) and renames it into place on Commit().
// Destroying an uncommitted writer removes the partial file: a reader never sees half a snapshot.
class SnapshotWriter {
 public:
  explicit SnapshotWriter(const std::string& path);
  ~SnapshotWriter();

  void SetMeta(const std::string& key, const std::string& value);
  // Starts a table and returns its number (0, 1, ...): rows go to it through AddRow until Commit,
  // and the rows of several tables may interleave (the snapshot reads them at once).
  size_t BeginTable(const TableInfo& table);
  // Takes the row's values; `values` comes back holding another row's strings, to be overwritten
  // (the hot path reuses their memory instead of allocating for every row).
  void AddRow(size_t table, RowValues& values);
  void AddRow(RowValues& values) { AddRow(tables_.size() - 1, values); }  // the last table begun
  // Records row counts, indexes the columns child tables reference, fsyncs and renames into place.
  void Commit();

 private:
  // Rows wait in `pending` and go in `rows_per_insert` at a time through `insert_many`: executing a
  // statement per row costs SQLite a cursor open, a transaction check and a halt each time.
  struct TableInserts {
    std::unique_ptr<SqliteStatement> insert_one;
    std::unique_ptr<SqliteStatement> insert_many;
    std::vector<RowValues> pending;
    size_t pending_count = 0;
    size_t rows_per_insert = 1;
  };
  void FinishTables();
  void InsertPendingRows(size_t table);
  void IndexParentKeys();
  std::string path_;
  std::string partial_path_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<FlushBehind> flush_behind_;
  std::vector<SnapshotTable> tables_;
  std::vector<TableInserts> inserts_;  // one per table of tables_, until FinishTables
  bool committed_ = false;
};

// Opens a snapshot read-only and verifies it (format version, tables, row counts, integrity).
// Any problem throws SnapshotError (exit 6) with a one-line reason naming the file.
class SnapshotReader {
 public:
  explicit SnapshotReader(const std::string& path);

  const std::string& path() const { return db_->path(); }
  const std::map<std::string, std::string>& meta() const { return meta_; }
  std::string Meta(const std::string& key) const;
  const std::vector<SnapshotTable>& tables() const { return tables_; }
  const SnapshotTable* FindTable(const std::string& name) const;

  // Streams the table's rows in the order they were saved; values follow info.columns.
  void ForEachRow(const SnapshotTable& table, const std::function<void(const RowValues&)>& visit) const;

  // The same, each row with its number: the file's own row id, so a row keeps its number from one
  // pass to the next (restore-users names rows by it in its temp tables and its seed SQL).
  using NumberedRowVisitor = std::function<void(long long row, const RowValues& values)>;
  void ForEachNumberedRow(const SnapshotTable& table, const NumberedRowVisitor& visit) const;
  // Only the given columns (indexes into info.columns, values in that order): a cheap pass over keys.
  void ForEachNumberedRow(const SnapshotTable& table, const std::vector<size_t>& columns,
                          const NumberedRowVisitor& visit) const;
  // The rows with these numbers, given in ascending order; numbers the file does not hold are skipped.
  void ForRows(const SnapshotTable& table, const std::vector<long long>& rows, const NumberedRowVisitor& visit) const;

  // The row whose `column` equals `value`, if any (indexed when a child table references it).
  std::optional<RowValues> FindRow(const SnapshotTable& table, const std::string& column,
                                   const std::string& value) const;

 private:
  void ReadMeta();
  void ReadTables();
  void VerifyCounts();
  std::unique_ptr<SqliteDb> db_;
  std::map<std::string, std::string> meta_;
  std::vector<SnapshotTable> tables_;
};

}  // namespace dbrefresh
