// Resume commands for a failed refresh (see resume_hint.h).
#include "refresh/resume_hint.h"

#include "process/process_runner.h"

namespace dbrefresh {
namespace {

std::string RefreshCommand(const ResumeContext& c, bool use_snapshot) {
  std::vector<std::string> argv = {"dbrefresh", "refresh", "--confirm-target", c.target_db, "--strategy", c.strategy};
  if (use_snapshot) {
    argv.push_back("--use-snapshot");
    argv.push_back(c.snapshot);
  }
  argv.insert(argv.end(), c.refresh_args.begin(), c.refresh_args.end());
  return MaskedCommandLine(argv);
}

std::string RestoreUsersCommand(const ResumeContext& c) {
  std::vector<std::string> argv = {"dbrefresh", "restore-users", c.snapshot, "--on-conflict", c.on_conflict};
  argv.insert(argv.end(), c.shared_args.begin(), c.shared_args.end());
  return MaskedCommandLine(argv);
}

std::string BothConnections(const ResumeContext& c) {
  return "with DBREFRESH_SOURCE_URL set to the source (" + c.source_masked + ") and DBREFRESH_TARGET_URL to the target (" +
         c.target_masked + ")";
}

}  // namespace

std::string ResumeHint(const ResumeContext& c) {
  switch (c.state) {
    case TargetState::kUntouched:
      if (!c.snapshot_kept) return "";
      // Same command again: the snapshot is taken anew from the unchanged target.
      return "The target is unchanged; the snapshot " + c.snapshot + " is kept. To try again, " + BothConnections(c) +
             ": " + RefreshCommand(c, false);
    case TargetState::kIncomplete:
      return "The target is incomplete; its preserved rows are in the snapshot " + c.snapshot + ". To resume, " +
             BothConnections(c) + ": " + RefreshCommand(c, true);
    case TargetState::kRestored:
      return "The target is restored from the source; its preserved rows are in the snapshot " + c.snapshot +
             ". To put them back" + (c.note.empty() ? "" : " (" + c.note + ")") +
             ", with DBREFRESH_TARGET_URL set to the target (" + c.target_masked +
             "): " + RestoreUsersCommand(c);
  }
  return "";
}

std::string RestoreUsersHint(const ResumeContext& c) {
  return "with DBREFRESH_TARGET_URL set to the target (" + c.target_masked + "): " + RestoreUsersCommand(c);
}

}  // namespace dbrefresh
