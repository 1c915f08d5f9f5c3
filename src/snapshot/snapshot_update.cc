// The catch-up of a snapshot (see snapshot_update.h).
#include "snapshot/snapshot_update.h"

#include "common/error.h"
#include "common/log.h"

namespace dbrefresh {
namespace {

const SnapshotTable& TableOf(const std::vector<SnapshotTable>& tables, const std::string& name, const std::string& path) {
  for (const auto& t : tables) {
    if (t.info.name == name) return t;
  }
  throw SnapshotError("snapshot " + path + ": holds no table " + name + " to bring up to date");
}

std::string KeyCondition(const std::vector<std::string>& key_columns) {
  std::string where;
  for (size_t i = 0; i < key_columns.size(); ++i) {
    where += (i ? " AND " : "") + SqliteIdent(key_columns[i]) + " = ?" + std::to_string(i + 1);
  }
  return where;
}

}  // namespace

SnapshotUpdater::SnapshotUpdater(const std::string& path) : path_(path) {
  {
    SnapshotReader verified(path);  // format, tables and row counts, as every reader checks them
    tables_ = verified.tables();
  }
  db_ = std::make_unique<SqliteDb>(path, SqliteDb::Mode::kReadWrite);
  // The writer made the file without a journal; changes to a finished file must be atomic.
  db_->Exec("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;");
}

void SnapshotUpdater::Begin() {
  if (in_transaction_) return;
  db_->Exec("BEGIN IMMEDIATE");
  in_transaction_ = true;
}

void SnapshotUpdater::IndexKey(const SnapshotTable& t, const std::vector<std::string>& key_columns) {
  std::string columns;
  for (const auto& c : key_columns) columns += (columns.empty() ? "" : ", ") + SqliteIdent(c);
  db_->Exec("CREATE INDEX IF NOT EXISTS " + SqliteIdent(t.rows_table + "_catch_up_key") + " ON " +
            SqliteIdent(t.rows_table) + " (" + columns + ")");
}

long long SnapshotUpdater::Apply(const std::string& table, const std::vector<std::string>& key_columns,
                                 const std::vector<ChangedRow>& changes) {
  if (changes.empty()) return 0;
  Begin();
  SnapshotTable& t = const_cast<SnapshotTable&>(TableOf(tables_, table, path_));
  IndexKey(t, key_columns);
  auto remove = db_->Prepare("DELETE FROM " + SqliteIdent(t.rows_table) + " WHERE " + KeyCondition(key_columns));
  std::string placeholders;
  for (size_t i = 0; i < t.info.columns.size(); ++i) placeholders += i ? ", ?" : "?";
  auto insert = db_->Prepare("INSERT INTO " + SqliteIdent(t.rows_table) + " VALUES (" + placeholders + ")");
  long long changed = 0;
  for (const auto& change : changes) {
    if (change.key.size() != key_columns.size()) throw Failure("catch-up of " + table + ": a key of the wrong width");
    for (size_t i = 0; i < change.key.size(); ++i) remove.Bind(static_cast<int>(i + 1), change.key[i]);
    remove.Step();
    remove.Reset();
    const long long removed = sqlite3_changes(db_->handle());
    t.row_count -= removed;
    if (change.row) {
      if (change.row->size() != t.info.columns.size()) throw Failure("catch-up of " + table + ": a row of the wrong width");
      for (size_t i = 0; i < change.row->size(); ++i) insert.Bind(static_cast<int>(i + 1), (*change.row)[i]);
      insert.Step();
      insert.Reset();
      ++t.row_count;
    }
    if (removed > 0 || change.row) ++changed;
  }
  applied_ += changed;
  return changed;
}

void SnapshotUpdater::Commit() {
  Begin();
  auto count = db_->Prepare("UPDATE dbrefresh_tables SET row_count = ? WHERE table_name = ?");
  for (const auto& t : tables_) {
    count.Bind(1, t.row_count);
    count.Bind(2, t.info.name);
    count.Step();
    count.Reset();
  }
  long long total = applied_;  // an earlier catch-up of the same file (a resumed run) adds to this one
  {
    auto previous = db_->Prepare("SELECT value FROM dbrefresh_meta WHERE key = 'caught_up_rows'");
    if (previous.Step() && previous.Text(0)) total += std::stoll(*previous.Text(0));
  }
  auto meta = db_->Prepare("INSERT OR REPLACE INTO dbrefresh_meta (key, value) VALUES (?, ?)");
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"caught_up_at", log::UtcNow()},
                                   {"caught_up_rows", std::to_string(total)}}) {
    meta.Bind(1, key);
    meta.Bind(2, value);
    meta.Step();
    meta.Reset();
  }
  db_->Exec("COMMIT");
  in_transaction_ = false;
  applied_ = 0;
}

}  // namespace dbrefresh
