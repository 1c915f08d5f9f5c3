// The `snapshot` step: saves the preserved tables of a database into a snapshot file.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "connect/pg_session.h"

namespace dbrefresh {

struct SnapshotSummary {
  std::string path;
  std::string flyway_version;
  std::vector<std::pair<std::string, long long>> row_counts;  // table, rows
};

// Reads every preserved table in one repeatable-read, read-only transaction (one consistent
// view), streaming rows with COPY into the file; memory stays flat in the row count.
// On success the file at `out_path` is complete (mode 0600); on failure no file is left there
// and an earlier file of that name is untouched.
// Throws: ConnectionError (3); BlockedError (4) when a preserved table is missing, naming it.
// `run_id` names the refresh run that takes it (metadata run_id); "" gives the file an id of its own.
SnapshotSummary TakeSnapshot(const ConnectionSpec& target, const Config& config, const std::string& out_path,
                             const std::string& run_id = "");
// The same, in `session` (a session already open on `target`, with no transaction running): the
// caller saves a connection, which costs SCRAM's key derivation on both sides.
SnapshotSummary TakeSnapshot(PgSession& session, const ConnectionSpec& target, const Config& config,
                             const std::string& out_path, const std::string& run_id = "");

// A new random run id: 32 hex digits.
std::string NewRunId();

}  // namespace dbrefresh
