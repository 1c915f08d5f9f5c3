// Opening PostgreSQL sessions: the one place libpqxx connection errors become dbrefresh errors.
#pragma once

#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "connect/connection_spec.h"

namespace dbrefresh {

enum class Access {
  kReadOnly,   // every transaction read-only at the server (the source, and read-only commands)
  kReadWrite,  // the target of restore-users / refresh
};

// A live session plus how to name it to people.
struct PgSession {
  std::unique_ptr<pqxx::connection> conn;
  std::string masked;   // MaskedConnection(spec.conninfo)
  std::string dbname;   // current_database()
};

// Connects, pins the session's text settings (common/session_settings.h) and row_security = off,
// checks that they took (Failure otherwise), and, for kReadOnly, sets default_transaction_read_only
// so a write fails at the server.
// On failure throws ConnectionError (exit 3) with libpq's reason and the masked connection.
PgSession OpenSession(const ConnectionSpec& spec, Access access);

// Runs `what` and rethrows libpqxx errors as dbrefresh::Error with SQLSTATE and `context`:
// connection loss → exit 3, everything else → exit 1.
[[noreturn]] void RethrowDatabaseError(const std::string& context);
// The same, and when `conn` itself is gone (the server restarted mid-COPY, say: libpqxx then throws
// a plain failure), the error is a connection loss whatever its type.
[[noreturn]] void RethrowDatabaseError(const std::string& context, const pqxx::connection_base& conn);

}  // namespace dbrefresh
