// Strategy `swap`: restore into a new database and rename it into place, so the target is never
// half-restored. Needs CREATEDB (and ownership of the target to rename it).
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "connect/pg_session.h"

namespace dbrefresh {

struct SwapNames {
  std::string target;  // the database being refreshed
  std::string fresh;   // "<target>_dbrefresh_new": restored into, renamed to `target` at the end
  std::string before;  // "<target>_before_<YYYYMMDDHHMMSS>": the old target, kept
};

// The names of a swap; `timestamp` is CompactUtcTimestamp()'s (its T and Z are left out of the
// before name). UsageError (exit 2) when a name would exceed PostgreSQL's 63 bytes.
SwapNames PlanSwapNames(const std::string& target_db, const std::string& timestamp);

// Whether `name` is one that a swap of `target_db` made: exactly "<target_db>_before_" and 14 digits
// (or the YYYYMMDDTHHMMSSZ form of earlier versions). A name given by hand never is.
bool IsBeforeDatabaseName(const std::string& target_db, const std::string& name);

// Drops the databases IsBeforeDatabaseName finds beyond the `keep` newest, oldest first, never
// `names.before` (the one just made) nor those in `also_kept` (the ones killed swaps of the run it
// resumed made: the first is the target as it was before the refresh). Each drop is logged; returns
// the names dropped. A drop that fails is a warning (another session may be looking at it), never an error.
std::vector<std::string> PruneBeforeDatabases(const ConnectionSpec& target, const SwapNames& names, int keep,
                                              const std::vector<std::string>& also_kept = {});

// ALTER DATABASE ... ALLOW_CONNECTIONS on `dbname`, through `maintenance` (a session on another
// database of the server: the run's liveness session).
void SetAllowConnections(pqxx::connection& maintenance, const std::string& dbname, bool allow);

// Whether `dbname` refuses connections while a swap's new database (`<dbname>_dbrefresh_new`) is
// there: what a swap killed between closing the old target and the rename leaves. Read through
// `maintenance`, a session on another database of the server.
bool LeftClosedByAKilledSwap(pqxx::connection& maintenance, const std::string& dbname);

// Empties `dbname` of sessions other than `own` (a session on it) once it accepts no new ones: ends
// them with config.terminate_connections, else waits up to config.lock_timeout_seconds for them to
// leave. Returns how many were ended; Failure (1) naming them when some stay.
int EndOtherSessions(pqxx::connection& own, const std::string& dbname, const Config& config);

// BlockedError (exit 4) unless the target's user may create databases.
void RequireCreatedb(PgSession& target);

// Connects to the target's server (database `postgres`), drops a leftover `fresh` database of an
// earlier failed run, and creates `fresh` with the target's encoding and locale. Returns the
// connection to it.
ConnectionSpec CreateFreshDatabase(const ConnectionSpec& target, const SwapNames& names);

// Gives `fresh` the target's owner, database grants and settings (best effort: each one the current
// user may not set is a returned warning).
std::vector<std::string> CopyDatabaseSettings(const ConnectionSpec& target, const SwapNames& names);

// In one transaction: target -> before, fresh -> target. Other sessions on the target are ended
// first when config.terminate_connections; otherwise a target still in use is retried with
// lock_timeout, then Failure (exit 1) saying so (the fresh database is kept, ready).
void RenameIntoPlace(const ConnectionSpec& target, const SwapNames& names, const Config& config);

// Drops `fresh` (after a failure before the rename); a warning, never an error, when it cannot.
void DropFreshDatabase(const ConnectionSpec& target, const SwapNames& names);

}  // namespace dbrefresh
