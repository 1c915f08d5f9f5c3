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

// Whether two sessions reach the same database, failing closed:
//   - yes when `target_seen_on_source`: the target session's random application_name token shows in
//     the source's pg_stat_activity, in the source's database (two live servers cannot share that);
//   - no when the database names differ, or both system identifiers were read and differ;
//   - else yes when the postmaster start time and server port are the same (one live server), or,
//     unless both identifiers were read, the connection strings name the same host and port.
// Equal system identifiers alone are no proof: a preprod restored from a prod RDS snapshot keeps it.
bool SameDatabase(const ServerIdentity& a, const ServerIdentity& b, bool target_seen_on_source = false);

// Reads the identity of a session's server (read-only queries).
ServerIdentity ReadIdentity(PgSession& session, const ConnectionSpec& spec);

// BlockedError unless the source session is read-only at the server: default_transaction_read_only
// and transaction_read_only read outside any transaction block dbrefresh opened (a transaction it
// opened READ ONLY itself would say "on" whatever the session's default, e.g. when a connection
// pooler dropped the session's SET).
void RequireReadOnlySession(PgSession& source);

struct GuardedSessions {
  PgSession source;  // read-only at the server: default_transaction_read_only = on, verified
  PgSession target;
};

// Connects to both and refuses (BlockedError) when they are the same database (or when that cannot
// be told), or unless
// `confirm_target` equals the target's current_database(). ConnectionError (3) when a side cannot
// be reached; BlockedError when the source session is not read-only after all.
GuardedSessions Guard(const ConnectionSpec& source, const ConnectionSpec& target, const std::string& confirm_target);

}  // namespace dbrefresh
