// The mark a refresh leaves on its target while the target is being replaced, and the lock that
// tells a live run from a dead one (SPEC section 5: a killed run is resumed, never re-snapshotted).
//
// The mark is a row in dbrefresh.refresh_mark, a table of dbrefresh's own schema in the target
// database. The schema drop and the restore change only the dumped schemas, so the mark survives
// them; strategy swap writes it into the new database before the rename, so it follows the
// target's name. (A database-level setting would follow the name by itself, but PostgreSQL 15
// lets only superusers, or roles granted SET on it, store one for an unknown parameter; the RDS
// master user is no superuser.) Writing it needs the right to create a schema in the database.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "connect/connection_spec.h"
#include "connect/pg_session.h"

namespace dbrefresh {

// Which run is refreshing the target, and the snapshot that holds the target's preserved rows.
struct RunMark {
  std::string run_id;
  std::string snapshot_file;  // the file name, looked for in --snapshot-dir
  std::string snapshot_path;  // the path as the run saw it (absolute)
  std::string sha256;         // of the snapshot file; "" while the run is changing the file (catch-up)
  std::string strategy;
  std::string started_at;
  // The old databases this run's swaps renamed the target to (it and the runs that resumed it): the
  // first is the target as it was before the refresh, which pruning must leave to a resumed run.
  std::vector<std::string> swapped_out;

  nlohmann::json ToJson() const;
  // Throws Failure naming the table when the text is not a mark.
  static RunMark FromJson(const std::string& text);
};

constexpr const char* kRunMarkSchema = "dbrefresh";

// The mark of the database `conn` is connected to, or nullopt when there is none.
std::optional<RunMark> ReadRunMark(pqxx::connection& conn);

// Sets (or replaces) the mark of the database `conn` is connected to, in a transaction of its own.
// BlockedError (4) when the user may not create the schema (nothing has been changed yet when the
// mark is first set).
void WriteRunMark(pqxx::connection& conn, const RunMark& mark);

// Removes the mark (its table, and the schema when nothing else is in it).
void ClearRunMark(pqxx::connection& conn);

// The sha256 of a file, as 64 hex digits. Failure (1) naming the file when it cannot be read.
std::string Sha256OfFile(const std::string& path);

// A session-level advisory lock held for the whole run in the `postgres` database of the target's
// server: the server releases it when the run's process dies, however it dies, so a mark whose
// lock is free was left by a dead run. Not in the target database, which swap must empty of
// sessions.
class RunLiveness {
 public:
  // Connects and tries the lock for `dbname`. BlockedError (4) when another run holds it;
  // ConnectionError (3) when the server cannot be reached.
  RunLiveness(const ConnectionSpec& target, const std::string& dbname);
  // A session on the `postgres` database of the target's server (datallowconn, databases).
  pqxx::connection& maintenance() { return *session_.conn; }

 private:
  PgSession session_;
};

// The target's database name as the connection names it ("" when it does not: libpq's default).
std::string DatabaseNameOf(const ConnectionSpec& spec);

}  // namespace dbrefresh
