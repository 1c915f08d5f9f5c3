// Other sessions on the target database: listing them (to say who holds a lock) and, with
// --terminate-connections, ending them. Only ever the target database; never the source.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace dbrefresh {

struct OtherSession {
  int pid = 0;
  std::string user;
  std::string application;
  std::string client;  // address, or "local"
  std::string state;   // active, idle in transaction, ...
};

// Every session on database `dbname` but the caller's own.
std::vector<OtherSession> ListOtherSessions(pqxx::connection& conn, const std::string& dbname);

// pg_terminate_backend for each of them, logging pid, user and application of each one ended
// (and a warning for each it was not allowed to end). Returns the number ended.
int TerminateOtherSessions(pqxx::connection& conn, const std::string& dbname);

// Logs the sessions that hold locks on relations of `schemas` in the connection's database (the
// ones a DROP SCHEMA waited for); with no schemas, every other session on `dbname`.
void LogLockHolders(pqxx::connection& conn, const std::string& dbname, const std::vector<std::string>& schemas = {});

}  // namespace dbrefresh
