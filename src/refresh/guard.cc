// The guard: same-database detection and the --confirm-target check (see guard.h).
#include "refresh/guard.h"

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

void RequireReadOnly(PgSession& source) {
  std::string setting;
  try {
    pqxx::read_transaction tx(*source.conn);
    setting = tx.exec("SHOW transaction_read_only")[0][0].as<std::string>();
  } catch (...) {
    RethrowDatabaseError("checking that the source session is read-only");
  }
  if (setting != "on") {
    throw BlockedError("the session on the source " + source.masked + " is not read-only (transaction_read_only=" + setting +
                       "); refusing to go on");
  }
}

}  // namespace

bool SameDatabase(const ServerIdentity& a, const ServerIdentity& b) {
  if (a.database != b.database) return false;
  if (a.system_identifier && b.system_identifier) return *a.system_identifier == *b.system_identifier;
  if (!a.postmaster_start.empty() && a.postmaster_start == b.postmaster_start && a.server_port == b.server_port) {
    return true;
  }
  return a.host == b.host && a.port == b.port;
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
  RequireReadOnly(sessions.source);
  if (SameDatabase(ReadIdentity(sessions.source, source), ReadIdentity(sessions.target, target))) {
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
