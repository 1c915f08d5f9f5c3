// Writing and verifying snapshot files (see snapshot_file.h for the layout).
#include "snapshot/snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/log.h"
#include "common/session_settings.h"
#include "common/type_name.h"

namespace dbrefresh {
namespace {

const char* kSchema = R"SQL(
CREATE TABLE dbrefresh_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE dbrefresh_tables (table_name TEXT PRIMARY KEY, position INTEGER NOT NULL,
                               rows_table TEXT NOT NULL, row_count INTEGER NOT NULL);
CREATE TABLE dbrefresh_columns (table_name TEXT NOT NULL, position INTEGER NOT NULL, column_name TEXT NOT NULL,
                                type TEXT NOT NULL, not_null INTEGER NOT NULL, default_expr TEXT,
                                identity TEXT NOT NULL, generated_expr TEXT,
                                PRIMARY KEY (table_name, position));
CREATE TABLE dbrefresh_constraints (table_name TEXT NOT NULL, constraint_name TEXT NOT NULL, kind TEXT NOT NULL,
                                    columns TEXT NOT NULL, definition TEXT NOT NULL, ref_table TEXT,
                                    ref_columns TEXT, PRIMARY KEY (table_name, constraint_name));
)SQL";

void SyncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    throw Failure("cannot flush snapshot " + path + " to disk: " + std::strerror(err));
  }
  ::close(fd);
}

void SyncDirectoryOf(const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// The text settings the rows were printed under (SPEC section 3). A file that records other ones
// holds values this dbrefresh would read back wrong (13/08/2025 under 'SQL, DMY'), so it is
// refused; a file that records none was written before they were pinned, and the database's own
// defaults were in force then: it is read, with a warning naming the risk.
void CheckRecordedSettings(const std::map<std::string, std::string>& meta, const std::string& path) {
  std::vector<std::string> missing;
  for (const auto& s : PinnedSessionSettings()) {
    auto it = meta.find(s.meta_key);
    if (it == meta.end()) {
      missing.push_back(s.name);
    } else if (it->second != s.value) {
      throw SnapshotError("snapshot " + path + ": its values were written under " + s.name + " = " + it->second +
                          ", not " + s.value + "; they would be read back wrong, so the file is refused");
    }
  }
  if (missing.size() == PinnedSessionSettings().size()) {
    log::Warn("the snapshot records no session settings (written by an older dbrefresh): its dates, intervals and "
              "floats are read as DateStyle ISO, IntervalStyle postgres; if the database it came from had other "
              "defaults (DateStyle 'SQL, DMY', say), dates may be refused or have day and month swapped",
              {{"file", path}});
  } else if (!missing.empty()) {
    throw SnapshotError("snapshot " + path + ": records some session settings but not " + missing.front() +
                        " (edited?)");
  }
}

std::string JoinJson(const std::vector<std::string>& names) { return nlohmann::json(names).dump(); }

std::vector<std::string> SplitJson(const std::optional<std::string>& text) {
  if (!text || text->empty()) return {};
  return nlohmann::json::parse(*text).get<std::vector<std::string>>();
}

}  // namespace

// Flushes a file being written to disk every tenth of a second, on a thread of its own. A disk
// with a write-back cache (a cloud volume) makes fsync take time in proportion to what was written
// since the last one: 0.1-0.2 s for a 200 MB snapshot, all of it at the end, after the last row.
// Flushed as it grows, the final fsync only has the last tenth of a second's pages left.
class FlushBehind {
 public:
  explicit FlushBehind(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY)) {
    if (fd_ >= 0) thread_ = std::thread([this] { Run(); });
  }
  ~FlushBehind() { Stop(); }

  // Stops the flushing; returns the errno of the first flush that failed, 0 if none did. Linux
  // reports a failed write-back once: a later fsync, the final one included, returns 0 for it.
  int Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    stopped_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return first_error_;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopped_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; })) {
      lock.unlock();
      const int failed = ::fdatasync(fd_) == 0 ? 0 : errno;
      lock.lock();
      if (failed && !first_error_) first_error_ = failed;
    }
  }
  int fd_;
  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stop_ = false;
  int first_error_ = 0;  // guarded by mutex_ until the thread is joined
  std::thread thread_;
};

// ---- writer ----

SnapshotWriter::SnapshotWriter(const std::string& path)
    : path_(path), partial_path_(path + ".partial-" + std::to_string(::getpid())) {
  std::remove(partial_path_.c_str());
  // Create the file with 0600 before SQLite opens it: it holds personal data.
  int fd = ::open(partial_path_.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd < 0) throw Failure("cannot create snapshot " + partial_path_ + ": " + std::strerror(errno));
  ::close(fd);
  db_ = std::make_unique<SqliteDb>(partial_path_, SqliteDb::Mode::kCreate);
  // The file is only renamed into place once complete, so SQLite's own journal buys nothing.
  db_->Exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 16384; "
            "PRAGMA locking_mode = EXCLUSIVE;");
  db_->Exec("BEGIN");
  db_->Exec(kSchema);
  flush_behind_ = std::make_unique<FlushBehind>(partial_path_);
  SetMeta("format_version", std::to_string(kSnapshotFormatVersion));
}

SnapshotWriter::~SnapshotWriter() {
  flush_behind_.reset();
  if (committed_) return;
  inserts_.clear();
  db_.reset();
  std::remove(partial_path_.c_str());
}

void SnapshotWriter::SetMeta(const std::string& key, const std::string& value) {
  auto stmt = db_->Prepare("INSERT OR REPLACE INTO dbrefresh_meta (key, value) VALUES (?, ?)");
  stmt.Bind(1, key);
  stmt.Bind(2, value);
  stmt.Step();
}

size_t SnapshotWriter::BeginTable(const TableInfo& table) {
  SnapshotTable entry{table, "rows_" + table.name, 0};
  auto column = db_->Prepare(
      "INSERT INTO dbrefresh_columns VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  std::string column_list, placeholders;
  for (const auto& c : table.columns) {
    column.Bind(1, table.name);
    column.Bind(2, static_cast<long long>(c.position));
    column.Bind(3, c.name);
    column.Bind(4, c.type);
    column.Bind(5, static_cast<long long>(c.not_null));
    column.Bind(6, c.default_expr);
    column.Bind(7, c.identity);
    column.Bind(8, c.generated_expr);
    column.Step();
    column.Reset();
    column_list += (column_list.empty() ? "" : ", ") + SqliteIdent(c.name) + " TEXT";
    placeholders += placeholders.empty() ? "?" : ", ?";
  }
  auto constraint = db_->Prepare("INSERT INTO dbrefresh_constraints VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const auto& c : table.constraints) {
    constraint.Bind(1, table.name);
    constraint.Bind(2, c.name);
    constraint.Bind(3, std::string(1, c.kind));
    constraint.Bind(4, JoinJson(c.columns));
    constraint.Bind(5, c.definition);
    constraint.Bind(6, c.ref_table.empty() ? std::nullopt : std::optional<std::string>(c.ref_table));
    constraint.Bind(7, JoinJson(c.ref_columns));
    constraint.Step();
    constraint.Reset();
  }
  db_->Exec("CREATE TABLE " + SqliteIdent(entry.rows_table) + " (" + column_list + ")");
  const std::string insert = "INSERT INTO " + SqliteIdent(entry.rows_table) + " VALUES ";
  const std::string one_row = "(" + placeholders + ")";
  TableInserts inserts;
  inserts.insert_one = std::make_unique<SqliteStatement>(*db_, insert + one_row);
  // As many rows per statement as SQLite's parameter limit allows, up to 64 (more gains nothing).
  const size_t width = std::max<size_t>(table.columns.size(), 1);
  const auto max_parameters = static_cast<size_t>(sqlite3_limit(db_->handle(), SQLITE_LIMIT_VARIABLE_NUMBER, -1));
  inserts.rows_per_insert = std::clamp<size_t>(max_parameters / width, 1, 64);
  std::string many_rows = one_row;
  for (size_t i = 1; i < inserts.rows_per_insert; ++i) many_rows += ", " + one_row;
  inserts.insert_many = std::make_unique<SqliteStatement>(*db_, insert + many_rows);
  inserts.pending.assign(inserts.rows_per_insert, RowValues(table.columns.size()));
  tables_.push_back(std::move(entry));
  inserts_.push_back(std::move(inserts));
  return tables_.size() - 1;
}

void SnapshotWriter::AddRow(size_t table, RowValues& values) {
  TableInserts& t = inserts_.at(table);
  t.pending[t.pending_count++].swap(values);
  if (t.pending_count == t.rows_per_insert) InsertPendingRows(table);
}

void SnapshotWriter::InsertPendingRows(size_t table) {
  // A full batch goes through the many-row statement; the tail of a table one row at a time.
  TableInserts& t = inserts_[table];
  const bool full = t.pending_count == t.rows_per_insert;
  SqliteStatement& insert = full ? *t.insert_many : *t.insert_one;
  for (size_t row = 0; row < t.pending_count; ++row) {
    const RowValues& values = t.pending[row];
    const size_t first = full ? row * values.size() : 0;
    for (size_t i = 0; i < values.size(); ++i) insert.BindNoCopy(static_cast<int>(first + i + 1), values[i]);
    if (!full) {
      insert.Step();
      insert.ResetKeepingBindings();  // every parameter is bound again for the next row
    }
  }
  if (full) {
    insert.Step();
    insert.ResetKeepingBindings();
  }
  tables_[table].row_count += static_cast<long long>(t.pending_count);
  t.pending_count = 0;
}

void SnapshotWriter::FinishTables() {
  auto stmt = db_->Prepare("INSERT INTO dbrefresh_tables VALUES (?, ?, ?, ?)");
  for (size_t i = 0; i < inserts_.size(); ++i) {
    if (inserts_[i].pending_count > 0) InsertPendingRows(i);
    const SnapshotTable& t = tables_[i];
    stmt.Bind(1, t.info.name);
    stmt.Bind(2, static_cast<long long>(i + 1));
    stmt.Bind(3, t.rows_table);
    stmt.Bind(4, t.row_count);
    stmt.Step();
    stmt.Reset();
  }
  inserts_.clear();
}

void SnapshotWriter::IndexParentKeys() {
  // seed-sql finds a child's parent row by the referenced column; only those columns need an
  // index (indexing every table's key would cost as much as a third of the snapshot's time).
  for (const auto& parent : tables_) {
    std::set<std::string> referenced;
    for (const auto& child : tables_) {
      for (const ConstraintInfo* fk : child.info.ForeignKeys()) {
        if (fk->ref_table == parent.info.name && fk->ref_columns.size() == 1) referenced.insert(fk->ref_columns[0]);
      }
    }
    for (const auto& column : referenced) {
      db_->Exec("CREATE INDEX " + SqliteIdent(parent.rows_table + "_" + column) + " ON " + SqliteIdent(parent.rows_table) +
                " (" + SqliteIdent(column) + ")");
    }
  }
}

void SnapshotWriter::Commit() {
  FinishTables();
  IndexParentKeys();
  db_->Exec("COMMIT");
  db_.reset();
  const int flush_error = flush_behind_->Stop();
  flush_behind_.reset();
  if (flush_error) throw Failure("cannot flush snapshot " + partial_path_ + " to disk: " + std::strerror(flush_error));
  SyncFile(partial_path_);
  if (std::rename(partial_path_.c_str(), path_.c_str()) != 0) {
    throw Failure("cannot move snapshot into place at " + path_ + ": " + std::strerror(errno));
  }
  SyncDirectoryOf(path_);
  committed_ = true;
}

// ---- reader ----

SnapshotReader::SnapshotReader(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw SnapshotError("snapshot " + path + ": no such file");
  if (!S_ISREG(st.st_mode)) throw SnapshotError("snapshot " + path + ": not a regular file");
  db_ = std::make_unique<SqliteDb>(path, SqliteDb::Mode::kReadOnly);
  // One read transaction for the reader's life: otherwise SQLite takes and drops its file lock,
  // re-reads the header and forgets its page cache for every statement, which made each row read
  // by number (ForRows) cost 10 us, most of it in the kernel (perf on restore-users at SPEC scale).
  db_->Exec("BEGIN");
  ReadMeta();
  CheckRecordedSettings(meta_, path);
  ReadTables();
  VerifyCounts();
}

void SnapshotReader::ReadMeta() {
  // A file SQLite cannot read, or one without our tables, is not a snapshot: say which.
  auto probe = db_->Prepare("SELECT count(*) FROM sqlite_master WHERE name = 'dbrefresh_meta'");
  probe.Step();
  if (probe.Int(0) == 0) throw SnapshotError("snapshot " + path() + ": not a dbrefresh snapshot (no dbrefresh_meta table)");
  auto stmt = db_->Prepare("SELECT key, value FROM dbrefresh_meta");
  while (stmt.Step()) {
    auto key = stmt.Text(0);
    if (!key) throw SnapshotError("snapshot " + path() + ": damaged (a dbrefresh_meta row has no key)");
    meta_[*key] = stmt.Text(1).value_or("");
  }
  const std::string version = Meta("format_version");
  if (version.empty()) throw SnapshotError("snapshot " + path() + ": no format_version in dbrefresh_meta");
  bool readable = false;
  for (int v = kOldestReadableFormatVersion; v <= kSnapshotFormatVersion; ++v) readable = readable || version == std::to_string(v);
  if (!readable) {
    throw SnapshotError("snapshot " + path() + ": format version " + version + " is not supported (this dbrefresh reads versions " +
                        std::to_string(kOldestReadableFormatVersion) + " to " + std::to_string(kSnapshotFormatVersion) + ")");
  }
}

void SnapshotReader::ReadTables() {
  auto tables = db_->Prepare("SELECT table_name, rows_table, row_count FROM dbrefresh_tables ORDER BY position");
  auto columns = db_->Prepare(
      "SELECT column_name, position, type, not_null, default_expr, identity, generated_expr "
      "FROM dbrefresh_columns WHERE table_name = ? ORDER BY position");
  auto constraints = db_->Prepare(
      "SELECT constraint_name, kind, columns, definition, ref_table, ref_columns "
      "FROM dbrefresh_constraints WHERE table_name = ? ORDER BY rowid");
  while (tables.Step()) {
    SnapshotTable t;
    t.info.name = tables.Text(0).value_or("");
    t.info.schema = Meta("schema");
    t.rows_table = tables.Text(1).value_or("");
    t.row_count = tables.Int(2);
    columns.Bind(1, t.info.name);
    while (columns.Step()) {
      t.info.columns.push_back({columns.Text(0).value_or(""), static_cast<int>(columns.Int(1)),
                                columns.Text(2).value_or(""), columns.Int(3) != 0, columns.Text(4),
                                columns.Text(5).value_or(""), columns.Text(6)});
    }
    columns.Reset();
    for (const auto& c : t.info.columns) {
      // Seed SQL casts to these names: only what format_type could have printed is a type name.
      if (!IsFormatTypeName(c.type)) {
        throw SnapshotError("snapshot " + path() + ": column " + t.info.name + "." + c.name +
                            " has an invalid type name: not one PostgreSQL's format_type prints (edited?)");
      }
    }
    constraints.Bind(1, t.info.name);
    while (constraints.Step()) {
      try {
        t.info.constraints.push_back({constraints.Text(0).value_or(""), constraints.Text(1).value_or("c")[0],
                                      SplitJson(constraints.Text(2)), constraints.Text(3).value_or(""),
                                      constraints.Text(4).value_or(""), SplitJson(constraints.Text(5))});
      } catch (const nlohmann::json::exception&) {
        throw SnapshotError("snapshot " + path() + ": unreadable constraint metadata for table " + t.info.name);
      }
    }
    constraints.Reset();
    if (t.info.columns.empty()) throw SnapshotError("snapshot " + path() + ": no column metadata for table " + t.info.name);
    tables_.push_back(std::move(t));
  }
  if (tables_.empty()) throw SnapshotError("snapshot " + path() + ": holds no tables");
}

void SnapshotReader::VerifyCounts() {
  db_->Exec("PRAGMA query_only = ON");
  auto check = db_->Prepare("PRAGMA quick_check");
  check.Step();
  const std::string verdict = check.Text(0).value_or("integrity check failed");
  if (verdict != "ok") {
    throw SnapshotError("snapshot " + path() + ": damaged (" + verdict.substr(0, verdict.find('\n')) + ")");
  }
  // A file cut short at a page boundary's tail can still pass quick_check: its size must be whole pages.
  auto page_size = db_->Prepare("PRAGMA page_size");
  auto page_count = db_->Prepare("PRAGMA page_count");
  page_size.Step();
  page_count.Step();
  struct stat st {};
  if (::stat(path().c_str(), &st) == 0 && st.st_size != page_size.Int(0) * page_count.Int(0)) {
    throw SnapshotError("snapshot " + path() + ": truncated (" + std::to_string(st.st_size) + " bytes, expected " +
                        std::to_string(page_size.Int(0) * page_count.Int(0)) + ")");
  }
  for (const auto& t : tables_) {
    auto count = db_->Prepare("SELECT count(*) FROM " + SqliteIdent(t.rows_table));
    count.Step();
    if (count.Int(0) != t.row_count) {
      throw SnapshotError("snapshot " + path() + ": table " + t.info.name + " has " + std::to_string(count.Int(0)) +
                          " rows but the file records " + std::to_string(t.row_count) + " (truncated or edited)");
    }
  }
}

std::string SnapshotReader::Meta(const std::string& key) const {
  auto it = meta_.find(key);
  return it == meta_.end() ? "" : it->second;
}

const SnapshotTable* SnapshotReader::FindTable(const std::string& name) const {
  for (const auto& t : tables_) {
    if (t.info.name == name) return &t;
  }
  return nullptr;
}

void SnapshotReader::ForEachRow(const SnapshotTable& table, const std::function<void(const RowValues&)>& visit) const {
  ForEachNumberedRow(table, [&](long long, const RowValues& values) { visit(values); });
}

namespace {

std::string ColumnList(const SnapshotTable& table, const std::vector<size_t>& columns) {
  std::string list;
  for (size_t i : columns) list += ", " + SqliteIdent(table.info.columns.at(i).name);
  return list;
}

std::vector<size_t> AllColumns(const SnapshotTable& table) {
  std::vector<size_t> all(table.info.columns.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

// SQLite's row id goes by three names, and a column of the same name hides it (a preserved table
// may well have a column "oid" or "rowid"): the first name no column takes.
std::string RowIdName(const SnapshotTable& table) {
  for (const char* name : {"rowid", "_rowid_", "oid"}) {
    bool taken = false;
    for (const auto& c : table.info.columns) taken = taken || sqlite3_stricmp(c.name.c_str(), name) == 0;
    if (!taken) return name;
  }
  throw SnapshotError("table " + table.info.name + " has columns named rowid, _rowid_ and oid: its rows cannot be numbered");
}

// Column 0 of `stmt` is the row id, the values follow.
void VisitNumbered(const SqliteStatement& stmt, RowValues& row, const SnapshotReader::NumberedRowVisitor& visit) {
  for (size_t i = 0; i < row.size(); ++i) row[i] = stmt.Text(static_cast<int>(i + 1));
  visit(stmt.Int(0), row);
}

}  // namespace

void SnapshotReader::ForEachNumberedRow(const SnapshotTable& table, const NumberedRowVisitor& visit) const {
  ForEachNumberedRow(table, AllColumns(table), visit);
}

void SnapshotReader::ForEachNumberedRow(const SnapshotTable& table, const std::vector<size_t>& columns,
                                        const NumberedRowVisitor& visit) const {
  const std::string id = RowIdName(table);
  auto stmt = db_->Prepare("SELECT " + id + ColumnList(table, columns) + " FROM " + SqliteIdent(table.rows_table) +
                           " ORDER BY " + id);
  RowValues row(columns.size());
  while (stmt.Step()) VisitNumbered(stmt, row, visit);
}

void SnapshotReader::ForRows(const SnapshotTable& table, const std::vector<long long>& rows,
                             const NumberedRowVisitor& visit) const {
  const std::string id = RowIdName(table);
  const std::string select = "SELECT " + id + ColumnList(table, AllColumns(table)) + " FROM " +
                             SqliteIdent(table.rows_table) + " WHERE " + id;
  auto lookup = db_->Prepare(select + " = ?");
  auto range = db_->Prepare(select + " BETWEEN ? AND ? ORDER BY " + id);
  RowValues row(table.info.columns.size());
  // Where at least half the numbers of a stretch are asked for, one scan of the stretch costs less
  // than a lookup each (most rows of a table, when the target lacks most of them).
  constexpr size_t kShortestScan = 16;
  size_t next = 0;
  while (next < rows.size()) {
    size_t last = next;
    while (last + 1 < rows.size() && rows[last + 1] - rows[next] < 2 * static_cast<long long>(last + 2 - next)) ++last;
    if (last - next + 1 < kShortestScan) {
      lookup.Reset();
      lookup.Bind(1, rows[next++]);
      if (lookup.Step()) VisitNumbered(lookup, row, visit);
      continue;
    }
    range.Reset();
    range.Bind(1, rows[next]);
    range.Bind(2, rows[last]);
    while (next <= last && range.Step()) {
      const long long at = range.Int(0);
      while (next <= last && rows[next] < at) ++next;  // numbers the file does not hold
      if (next <= last && rows[next] == at) {
        VisitNumbered(range, row, visit);
        ++next;
      }
    }
    next = last + 1;
  }
}

std::optional<RowValues> SnapshotReader::FindRow(const SnapshotTable& table, const std::string& column,
                                                 const std::string& value) const {
  std::string columns;
  for (const auto& c : table.info.columns) columns += (columns.empty() ? "" : ", ") + SqliteIdent(c.name);
  auto stmt = db_->Prepare("SELECT " + columns + " FROM " + SqliteIdent(table.rows_table) + " WHERE " +
                           SqliteIdent(column) + " = ? LIMIT 1");
  stmt.Bind(1, value);
  if (!stmt.Step()) return std::nullopt;
  RowValues row(table.info.columns.size());
  for (size_t i = 0; i < row.size(); ++i) row[i] = stmt.Text(static_cast<int>(i));
  return row;
}

}  // namespace dbrefresh
