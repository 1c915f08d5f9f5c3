// Refresh step 1, the guard: refuses to overwrite the source or an unconfirmed target.
//
// Its refusals are BlockedError (exit 4) and --force never overrides them; nothing has been
// changed on either side when they happen.
#pragma once

#include <optional>
#include <string>

#include "connect/connection_spec.h"
#include "connect/pg_session.h"

namespace dbrefresh {

// Enough to tell whether two sessions reach the same database of the same cluster.
struct ServerIdentity {
  std::optional<std::string> system_identifier;  // pg_control_system(), when readable
  std::string postmaster_start;                  // pg_postmaster_start_time(), as text
  std::string server_port;                       // the port the server reports
  std::string host;                              // from the connection string ("" for the default)
  std::string port;                              // from the connection string ("" for the default)
  std::string database;                          // current_database()
};

// Same database name and: the same system identifier when both sides could read it, else the same
// postmaster start time and server port, or the same host and port in the connection strings.
bool SameDatabase(const ServerIdentity& a, const ServerIdentity& b);

// Reads the identity of a session's server (read-only queries).
ServerIdentity ReadIdentity(PgSession& session, const ConnectionSpec& spec);

struct GuardedSessions {
  PgSession source;  // read-only at the server: default_transaction_read_only = on, verified
  PgSession target;
};

// Connects to both and refuses (BlockedError) when they are the same database, or unless
// `confirm_target` equals the target's current_database(). ConnectionError (3) when a side cannot
// be reached; BlockedError when the source session is not read-only after all.
GuardedSessions Guard(const ConnectionSpec& source, const ConnectionSpec& target, const std::string& confirm_target);

}  // namespace dbrefresh
