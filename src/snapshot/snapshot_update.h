// Bringing a finished snapshot up to date: the rows a live target changed after it was taken.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/snapshot_file.h"
#include "snapshot/sqlite_db.h"

namespace dbrefresh {

// One changed row of a preserved table: its key (values of the key columns, PostgreSQL text) and
// its latest committed version, or nullopt when it is gone (deleted, or its key changed).
struct ChangedRow {
  RowValues key;
  std::optional<RowValues> row;  // the snapshot's columns, in its order
};

// Opens a verified snapshot read-write. Changes go into one SQLite transaction with a rollback
// journal and synchronous=FULL, so that Commit() returning means they are on disk, and a crash
// before it leaves the file as it was.
class SnapshotUpdater {
 public:
  explicit SnapshotUpdater(const std::string& path);

  const std::vector<SnapshotTable>& tables() const { return tables_; }

  // Replaces, by key, the rows of `table` with their latest versions (removes the gone ones).
  // Returns how many keys changed the file. Inside the transaction that Commit() ends. The first
  // changes to a table index its key columns, so that each replacement is a lookup: a pass over the
  // table (0.4 s for a million rows), paid only by a table that has changed, and once; the
  // unlocked catch-up usually pays it before the locked one.
  long long Apply(const std::string& table, const std::vector<std::string>& key_columns,
                  const std::vector<ChangedRow>& changes);

  // Records the new row counts and caught_up_at / caught_up_rows, and commits durably.
  void Commit();

 private:
  void IndexKey(const SnapshotTable& table, const std::vector<std::string>& key_columns);
  void Begin();
  std::string path_;
  std::unique_ptr<SqliteDb> db_;
  std::vector<SnapshotTable> tables_;
  bool in_transaction_ = false;
  long long applied_ = 0;
};

}  // namespace dbrefresh
