// Opening sessions and translating libpqxx errors, so callers deal only in dbrefresh::Error.
#include "connect/pg_session.h"

#include "common/error.h"
#include "common/log.h"
#include "common/session_settings.h"

namespace dbrefresh {
namespace {

// libpq reports "password authentication failed for user ..." and similar; keep its first line.
std::string FirstLine(const std::string& text) {
  auto end = text.find('\n');
  std::string line = text.substr(0, end);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}

// Pins the text settings and turns row security off (as pg_dump does), then checks that they took:
// a connection pooler that drops session SETs must not make dbrefresh read 13/08/2025 as text.
void PinSessionSettings(pqxx::nontransaction& tx, const std::string& masked) {
  tx.exec(PinnedSettingsSql() + " SET row_security = off;");
  std::string query = "SELECT current_setting('row_security')";
  for (const auto& s : PinnedSessionSettings()) query += ", current_setting('" + s.name + "')";
  const auto row = tx.exec(query)[0];
  std::string wrong;
  if (row[0].as<std::string>() != "off") wrong = "row_security = " + row[0].as<std::string>();
  for (size_t i = 0; i < PinnedSessionSettings().size(); ++i) {
    const auto& s = PinnedSessionSettings()[i];
    const std::string now = row[static_cast<int>(i + 1)].as<std::string>();
    if (now != s.value) wrong += (wrong.empty() ? "" : ", ") + s.name + " = " + now;
  }
  if (!wrong.empty()) {
    throw Failure("the session settings did not take on " + masked + " (" + wrong +
                  "; a connection pooler dropping SET?): refusing to read or write values as text");
  }
}

}  // namespace

PgSession OpenSession(const ConnectionSpec& spec, Access access) {
  PgSession session;
  session.masked = MaskedConnection(spec.conninfo);
  ParseConninfo(spec.conninfo);  // a syntax error is a usage error, not a connection error
  try {
    session.conn = std::make_unique<pqxx::connection>(spec.conninfo);
    pqxx::nontransaction tx(*session.conn);
    tx.exec("SET application_name = 'dbrefresh'");
    PinSessionSettings(tx, session.masked);
    if (access == Access::kReadOnly) {
      tx.exec("SET default_transaction_read_only = on");
    }
    session.dbname = tx.exec("SELECT current_database()")[0][0].as<std::string>();
  } catch (const pqxx::broken_connection& e) {
    throw ConnectionError("cannot connect to " + session.masked + " (from " + spec.origin + "): " +
                          FirstLine(e.what()));
  } catch (const pqxx::sql_error& e) {
    throw ConnectionError("cannot start a session on " + session.masked + ": " + FirstLine(e.what()));
  }
  log::Debug("connected", {{"database", session.masked}, {"server_version", session.conn->server_version()}});
  return session;
}

void RethrowDatabaseError(const std::string& context) {
  try {
    throw;
  } catch (const dbrefresh::Error&) {
    throw;
  } catch (const pqxx::broken_connection& e) {
    throw ConnectionError(context + ": connection lost: " + FirstLine(e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    throw ConnectionError(context + ": connection lost during commit: " + FirstLine(e.what()));
  } catch (const pqxx::sql_error& e) {
    std::string state = e.sqlstate().empty() ? "" : " [SQLSTATE " + e.sqlstate() + "]";
    if (e.sqlstate().rfind("08", 0) == 0 || e.sqlstate() == "57P01") {
      throw ConnectionError(context + ": " + FirstLine(e.what()) + state);
    }
    throw Failure(context + ": " + FirstLine(e.what()) + state);
  } catch (const std::exception& e) {
    throw Failure(context + ": " + FirstLine(e.what()));
  }
}

void RethrowDatabaseError(const std::string& context, const pqxx::connection_base& conn) {
  try {
    throw;
  } catch (const dbrefresh::Error&) {
    throw;
  } catch (const std::exception& e) {
    if (!conn.is_open()) throw ConnectionError(context + ": connection lost: " + FirstLine(e.what()));
    RethrowDatabaseError(context);  // still inside the handler: rethrows `e`
  }
}

}  // namespace dbrefresh
