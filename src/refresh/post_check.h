// Refresh step 8: when preprod was on newer migrations than prod, get them re-applied and fill the
// re-added columns from the snapshot (restore-users --on-conflict update).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "process/process_runner.h"
#include "restore/restore_users.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh {

struct PostCheckOutcome {
  std::string snapshot_version;  // the target's flyway version before the refresh
  std::string restored_version;  // the target's flyway version after the restore
  bool target_was_ahead = false;
  bool migrations_reapplied = false;
  std::optional<RestoreOutcome> second_restore;  // restore-users --on-conflict update, when it ran
  std::vector<std::string> warnings;
};

// True when `snapshot_version` is newer (Flyway order) than `restored_version`.
bool TargetWasAhead(const std::string& snapshot_version, const std::string& restored_version);

// Compares the target's latest successful flyway version with the snapshot's. When the snapshot is
// newer: runs config.post_restore_command (if any) through `runner`, waits up to
// config.wait_for_migrations_seconds for the target to reach the snapshot's version (polling), and
// then runs restore-users again with --on-conflict update. Without a command or a wait, and the
// migrations not back, it only warns (the caller prints the command to run later).
// Throws Failure (1) when the command fails or the wait times out.
PostCheckOutcome PostCheck(const SnapshotReader& snapshot, const ConnectionSpec& target, const Config& config,
                           ProcessRunner& runner, const RestoreOptions& restore_options);

}  // namespace dbrefresh
