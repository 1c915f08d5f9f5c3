// Strategy swap, the last catch-up: the preserved rows a live target changed after restore-users
// had filled the new database, applied to the new database before it is renamed into place.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "refresh/change_capture.h"
#include "restore/restore_users.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh {

struct SwapCatchUpOutcome {
  long long deleted = 0;   // rows restore-users had put in, since deleted on the target
  long long updated = 0;   // rows restore-users had put in (or prod's, under update), since changed
  RestoreOutcome inserted;  // rows the new database lacks, through restore-users
};

// For each changed key: gone on the target -> deleted from `fresh` unless the source has that key
// (then the row is prod's); changed -> updated in `fresh` where `fresh` has the key and the row is
// not prod's (or on_conflict is update); not in `fresh` -> written with its parents to a small
// snapshot at `delta_path` and inserted by restore-users (key matching, re-pointing, seed SQL as
// always; the file is removed afterwards). `snapshot` is the caught-up snapshot.
SwapCatchUpOutcome ApplyCatchUpToFresh(const std::vector<TableChanges>& changes, const SnapshotReader& snapshot,
                                       pqxx::connection& source, const ConnectionSpec& fresh, const Config& config,
                                       const RestoreOptions& options, const std::string& delta_path);

}  // namespace dbrefresh
