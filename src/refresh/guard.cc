// The guard: same-database detection and the --confirm-target check (see guard.h).
#include "refresh/guard.h"

#include <random>

#include "common/error.h"
#include "common/log.h"

namespace dbrefresh {
namespace {

std::string Value(const std::map<std::string, std::string>& values, const std::string& key) {
  auto it = values.find(key);
  return it == values.end() ? "" : it->second;
}

std::optional<std::string> ReadSystemIdentifier(pqxx::connection& conn) {
  try {
    pqxx::read_transaction tx(conn);
    auto r = tx.exec("SELECT system_identifier::text FROM pg_control_system()");
    if (!r.empty() && !r[0][0].is_null()) return r[0][0].as<std::string>();
  } catch (const pqxx::sql_error& e) {
    log::Debug("cannot read the system identifier; comparing host, port and database instead", {{"reason", e.what()}});
  }
  return std::nullopt;
}

// A token no other session has: a live server shows it in pg_stat_activity only if the session
// that set it is one of its own.
std::string NewToken() {
  std::random_device random;
  static const char* kHex = "0123456789abcdef";
  std::string token = "dbrefresh-guard-";
  for (int i = 0; i < 24; ++i) token += kHex[random() % 16];
  return token;
}

// Sets a random application_name on the target session and looks for it in the source's
// pg_stat_activity, in the source's own database. Fails closed: a source that cannot be asked
// is a refusal, not a pass.
bool TargetSeenOnSource(GuardedSessions& sessions) {
  const std::string token = NewToken();
  try {
    pqxx::nontransaction target(*sessions.target.conn);
    target.exec("SET application_name = " + target.quote(token));
  } catch (...) {
    RethrowDatabaseError("marking the target session for the guard");
  }
  bool seen = false;
  try {
    pqxx::nontransaction source(*sessions.source.conn);
    seen = source.exec_params("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = $1 "
                              "AND datname = current_database())", token)[0][0].as<bool>();
  } catch (const pqxx::sql_error& e) {
    throw BlockedError("cannot tell whether the source and the target are the same database: reading the source's "
                       "pg_stat_activity failed (" + std::string(e.what()).substr(0, std::string(e.what()).find('\n')) +
                       "); refusing to go on");
  } catch (...) {
    RethrowDatabaseError("checking that the source is not the target");
  }
  try {
    pqxx::nontransaction target(*sessions.target.conn);
    target.exec("SET application_name = 'dbrefresh'");
  } catch (...) {
    RethrowDatabaseError("marking the target session for the guard");
  }
  return seen;
}

}  // namespace

void RequireReadOnlySession(PgSession& source) {
  std::string default_setting, setting;
  try {
    // Outside any transaction block: a READ ONLY transaction of our own would say "on" in any case.
    pqxx::nontransaction tx(*source.conn);
    default_setting = tx.exec("SHOW default_transaction_read_only")[0][0].as<std::string>();
    setting = tx.exec("SHOW transaction_read_only")[0][0].as<std::string>();
  } catch (...) {
    RethrowDatabaseError("checking that the source session is read-only");
  }
  if (default_setting != "on" || setting != "on") {
    throw BlockedError("the session on the source " + source.masked + " is not read-only (default_transaction_read_only=" +
                       default_setting + ", transaction_read_only=" + setting +
                       "; a connection pooler dropping session settings?); refusing to go on");
  }
}

bool SameDatabase(const ServerIdentity& a, const ServerIdentity& b, bool target_seen_on_source) {
  if (target_seen_on_source) return true;
  if (a.database != b.database) return false;
  const bool both_identified = a.system_identifier && b.system_identifier;
  if (both_identified && *a.system_identifier != *b.system_identifier) return false;
  if (!a.postmaster_start.empty() && a.postmaster_start == b.postmaster_start && a.server_port == b.server_port) {
    return true;
  }
  return !both_identified && a.host == b.host && a.port == b.port;
}

ServerIdentity ReadIdentity(PgSession& session, const ConnectionSpec& spec) {
  ServerIdentity id;
  auto values = ParseConninfo(spec.conninfo);
  id.host = Value(values, "host").empty() ? Value(values, "hostaddr") : Value(values, "host");
  id.port = Value(values, "port");
  id.database = session.dbname;
  id.system_identifier = ReadSystemIdentifier(*session.conn);
  try {
    pqxx::read_transaction tx(*session.conn);
    auto row = tx.exec("SELECT pg_postmaster_start_time()::text, coalesce(inet_server_port()::text, current_setting('port'))")[0];
    id.postmaster_start = row[0].as<std::string>();
    id.server_port = row[1].as<std::string>();
  } catch (...) {
    RethrowDatabaseError("reading the server identity of " + session.masked);
  }
  return id;
}

GuardedSessions Guard(const ConnectionSpec& source, const ConnectionSpec& target, const std::string& confirm_target) {
  GuardedSessions sessions{OpenSession(source, Access::kReadOnly), OpenSession(target, Access::kReadWrite)};
  RequireReadOnlySession(sessions.source);
  const bool seen = TargetSeenOnSource(sessions);
  if (SameDatabase(ReadIdentity(sessions.source, source), ReadIdentity(sessions.target, target), seen)) {
    throw BlockedError("source and target are the same database (" + sessions.target.masked +
                       "): refusing to refresh a database from itself");
  }
  if (confirm_target.empty()) {
    throw BlockedError("refusing to overwrite the target database '" + sessions.target.dbname +
                       "' without --confirm-target " + sessions.target.dbname);
  }
  if (confirm_target != sessions.target.dbname) {
    throw BlockedError("--confirm-target '" + confirm_target + "' does not match the target database '" +
                       sessions.target.dbname + "' (" + sessions.target.masked + "); nothing changed");
  }
  log::Info("guard: source is read-only, target confirmed", {{"source", sessions.source.masked}, {"target", sessions.target.masked}});
  return sessions;
}

}  // namespace dbrefresh
