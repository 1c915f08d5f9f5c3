// SQLite RAII wrapper (see sqlite_db.h).
#include "snapshot/sqlite_db.h"

#include "common/error.h"

namespace dbrefresh {

namespace {

// SQLite's memory statistics take a global mutex on every allocation; dbrefresh never reads them.
// This must run before SQLite initialises itself, so it runs once, before the first open.
void ConfigureSqliteOnce() {
  static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)configured;  // SQLITE_MISUSE when something else initialised SQLite first: harmless
}

}  // namespace

SqliteDb::SqliteDb(const std::string& path, Mode mode) : path_(path) {
  ConfigureSqliteOnce();
  // NOMUTEX: each handle is used by one thread only, so SQLite's per-call locking is pure cost.
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::kReadOnly: flags |= SQLITE_OPEN_READONLY; break;
    case Mode::kReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::kCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
  }
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) Fail("cannot open", rc);
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

void SqliteDb::Fail(const std::string& what, int rc) {
  std::string reason = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  throw SnapshotError("snapshot " + path_ + ": " + what + ": " + reason);
}

void SqliteDb::Exec(const std::string& sql) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) Fail("cannot run '" + sql.substr(0, 60) + "'", rc);
}

SqliteStatement SqliteDb::Prepare(const std::string& sql) { return SqliteStatement(*this, sql); }

SqliteStatement::SqliteStatement(SqliteDb& db, const std::string& sql) : db_(&db) {
  int rc = sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt_, nullptr);
  if (rc != SQLITE_OK) db.Fail("cannot prepare '" + sql.substr(0, 60) + "'", rc);
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

void SqliteStatement::Bind(int index, const std::optional<std::string>& text) {
  int rc = text ? sqlite3_bind_text(stmt_, index, text->data(), static_cast<int>(text->size()), SQLITE_TRANSIENT)
                : sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_->Fail("cannot bind a value", rc);
}

void SqliteStatement::BindNoCopy(int index, const std::optional<std::string>& text) {
  int rc = text ? sqlite3_bind_text(stmt_, index, text->data(), static_cast<int>(text->size()), SQLITE_STATIC)
                : sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_->Fail("cannot bind a value", rc);
}

void SqliteStatement::Bind(int index, long long value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) db_->Fail("cannot bind a value", rc);
}

bool SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->Fail("cannot read or write", rc);
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::optional<std::string> SqliteStatement::Text(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

void SqliteStatement::ResetKeepingBindings() { sqlite3_reset(stmt_); }

long long SqliteStatement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

int SqliteStatement::ColumnCount() const { return sqlite3_column_count(stmt_); }

std::string SqliteIdent(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace dbrefresh
