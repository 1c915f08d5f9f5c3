// What a failed refresh tells the operator to run next, by how far it got. Pure text building,
// passwords never included: the connections are named by their masked form and passed through
// DBREFRESH_SOURCE_URL / DBREFRESH_TARGET_URL.
#pragma once

#include <string>
#include <vector>

namespace dbrefresh {

// How far a refresh got when it failed.
enum class TargetState {
  kUntouched,   // the target is as it was (guard, preflight, snapshot, dump, clear before its commit, swap)
  kIncomplete,  // its schemas are dropped or half-restored: resume with --use-snapshot
  kRestored,    // the source's data is in place: only restore-users remains
};

struct ResumeContext {
  TargetState state = TargetState::kUntouched;
  bool snapshot_kept = false;            // a snapshot file exists for this run
  std::string snapshot;                  // its path
  std::string source_masked;
  std::string target_masked;
  std::string target_db;
  std::string strategy;
  std::string on_conflict;               // skip | update | fail, for restore-users
  std::string note;                      // said before the restore-users command, e.g. why its --on-conflict differs
  std::vector<std::string> shared_args;   // --config FILE, --schema NAME as given (for restore-users)
  std::vector<std::string> refresh_args;  // the refresh's other options as given, connections excluded
};

// "" when there is nothing to resume (nothing was changed and no snapshot was taken); else one
// sentence ending with the exact command, e.g. "The target is restored from the source; the
// preserved rows are in the snapshot X. To put them back, with DBREFRESH_TARGET_URL set to the
// target (host=... password=****): dbrefresh restore-users X --on-conflict skip".
std::string ResumeHint(const ResumeContext& context);

// The restore-users command alone, for after re-applied migrations: "with DBREFRESH_TARGET_URL set to
// the target (...): dbrefresh restore-users X --on-conflict update".
std::string RestoreUsersHint(const ResumeContext& context);

}  // namespace dbrefresh
