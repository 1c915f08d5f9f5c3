// One preserved table's way back into the target: staging, casting, matching, inserting.
//
// The rows go by COPY straight into a typed temp table; only when a value does not fit are they
// staged as text and cast in SQL, so that the rows to blame can be found.
// Every step is set-based (one statement over all rows). When a statement fails, it is re-run
// row by row inside savepoints, and only the rows that still fail are set aside, with PostgreSQL's
// reason, for the seed SQL. All of it runs inside the caller's single transaction.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "mapping/column_mapping.h"
#include "restore/restore_users.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh {

// A child FK column whose values are re-pointed through a parent's id map.
struct Repoint {
  std::string column;
  std::string idmap_table;
};

struct TableRestorePlan {
  const SnapshotTable* snapshot = nullptr;
  TableInfo target;
  TableMapping mapping;
  std::vector<std::string> pk;                       // target PK columns, when all are written
  std::vector<std::vector<std::string>> match_keys;  // unique keys whose columns are all written
  std::vector<std::string> duplicate_check;          // non-PK written columns, when ComparesDuplicates
  std::vector<std::string> update_columns;           // copied non-PK columns (for --on-conflict update)
  std::vector<Repoint> repoints;
  int index = 0;                                     // names the temp tables

  std::string Stage() const { return "dbrefresh_stage_" + std::to_string(index); }
  std::string Typed() const { return "dbrefresh_typed_" + std::to_string(index); }
  std::string Failed() const { return "dbrefresh_failed_" + std::to_string(index); }
  std::string IdMap() const { return "dbrefresh_idmap_" + std::to_string(index); }
  std::string Keys() const { return "dbrefresh_keys_" + std::to_string(index); }
  std::string Lacking() const { return "dbrefresh_lacking_" + std::to_string(index); }
  std::string QualifiedTarget() const;
};

// Runs every step for one table and fills `outcome`. Rows that cannot go in are left in
// Failed() (columns _row, reason) for the caller to turn into seed SQL.
void RestoreTable(pqxx::work& tx, const SnapshotReader& snapshot, const TableRestorePlan& plan,
                  OnConflict on_conflict, TableOutcome& outcome, std::vector<std::string>& warnings);

// The set-aside rows: how many, and each read back from the snapshot (row values as in the
// snapshot, reason), in row order, without holding them all in memory.
long long CountFailedRows(pqxx::work& tx, const TableRestorePlan& plan);
using FailedRowVisitor = std::function<void(const RowValues& values, const std::string& reason)>;
void ForEachFailedRow(pqxx::work& tx, const SnapshotReader& snapshot, const TableRestorePlan& plan,
                      const FailedRowVisitor& visit);

}  // namespace dbrefresh
