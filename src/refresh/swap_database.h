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
  std::string before;  // "<target>_before_<timestamp>": the old target, kept
};

// The names of a swap. UsageError (exit 2) when a name would exceed PostgreSQL's 63 bytes.
SwapNames PlanSwapNames(const std::string& target_db, const std::string& timestamp);

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
