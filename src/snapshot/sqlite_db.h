// A small RAII wrapper over SQLite's C API: a database handle and prepared statements.
// Every failure throws dbrefresh::Error(kBadSnapshot) naming the file and SQLite's reason.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>

namespace dbrefresh {

class SqliteStatement;

class SqliteDb {
 public:
  enum class Mode { kReadOnly, kReadWrite, kCreate };
  SqliteDb(const std::string& path, Mode mode);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void Exec(const std::string& sql);
  SqliteStatement Prepare(const std::string& sql);
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }
  [[noreturn]] void Fail(const std::string& what, int rc);

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class SqliteStatement {
 public:
  SqliteStatement(SqliteDb& db, const std::string& sql);
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;

  // Binds 1-based parameters; a nullopt binds SQL NULL. SQLite copies the text.
  void Bind(int index, const std::optional<std::string>& text);
  // Like Bind, without the copy: the text must stay alive and unchanged until Step() (hot paths).
  void BindNoCopy(int index, const std::optional<std::string>& text);
  void Bind(int index, long long value);
  // True while a row is available; false when done. Throws on error.
  bool Step();
  void Reset();
  void ResetKeepingBindings();
  std::optional<std::string> Text(int column) const;
  long long Int(int column) const;
  int ColumnCount() const;

 private:
  SqliteDb* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// SQLite's identifier quoting: "name" with embedded quotes doubled.
std::string SqliteIdent(const std::string& name);

}  // namespace dbrefresh
