// pg_stat_activity and pg_terminate_backend on the target database (see target_sessions.h).
#include "refresh/target_sessions.h"

#include <set>

#include "common/log.h"
#include "connect/pg_session.h"

namespace dbrefresh {
namespace {

const char* kSessionsQuery = R"SQL(
SELECT pid, coalesce(usename, ''), coalesce(application_name, ''),
       coalesce(host(client_addr), 'local'), coalesce(state, '')
FROM pg_stat_activity
WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
ORDER BY pid)SQL";

// Sessions holding granted locks on relations of a schema, in this database.
const char* kLockHoldersQuery = R"SQL(
SELECT DISTINCT l.pid FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND n.nspname = $1)SQL";

nlohmann::json Fields(const OtherSession& s) {
  return {{"pid", s.pid}, {"user", s.user}, {"application", s.application}, {"client", s.client}, {"state", s.state}};
}

}  // namespace

std::vector<OtherSession> ListOtherSessions(pqxx::connection& conn, const std::string& dbname) {
  std::vector<OtherSession> sessions;
  try {
    pqxx::nontransaction tx(conn);
    for (const auto& row : tx.exec_params(kSessionsQuery, dbname)) {
      sessions.push_back({row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>(),
                          row[3].as<std::string>(), row[4].as<std::string>()});
    }
  } catch (...) {
    RethrowDatabaseError("listing the sessions on the target database " + dbname);
  }
  return sessions;
}

int TerminateOtherSessions(pqxx::connection& conn, const std::string& dbname) {
  int ended = 0;
  for (const auto& s : ListOtherSessions(conn, dbname)) {
    bool done = false;
    try {
      pqxx::nontransaction tx(conn);
      done = tx.exec_params("SELECT pg_terminate_backend($1)", s.pid)[0][0].as<bool>();
    } catch (const pqxx::sql_error& e) {
      log::Warn("not allowed to end a session on the target: " + std::string(e.what()), Fields(s));
      continue;
    }
    if (done) {
      ++ended;
      log::Info("ended a session on the target (--terminate-connections)", Fields(s));
    }
  }
  return ended;
}

void LogLockHolders(pqxx::connection& conn, const std::string& dbname, const std::vector<std::string>& schemas) {
  std::set<int> holders;
  if (!schemas.empty()) {
    try {
      pqxx::nontransaction tx(conn);
      for (const auto& schema : schemas) {
        for (const auto& row : tx.exec_params(kLockHoldersQuery, schema)) holders.insert(row[0].as<int>());
      }
    } catch (...) {
      RethrowDatabaseError("listing the sessions that hold locks on the target");
    }
  }
  for (const auto& s : ListOtherSessions(conn, dbname)) {
    if (!schemas.empty() && !holders.count(s.pid)) continue;
    log::Warn("this session on the target holds a lock the refresh needs", Fields(s));
  }
}

}  // namespace dbrefresh
