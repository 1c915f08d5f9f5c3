// The refresh run's state and steps, shared by the files that implement them: refresh.cc runs the
// steps in order (guard .. report); refresh_live_target.cc holds what keeps a live target's
// people through the run and a killed run's successor on track: the mark, the catch-up, the
// swap's closed window, and taking back or reopening after a failure. Internal to refresh/.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/exit_code.h"
#include "common/log.h"
#include "process/process_runner.h"
#include "refresh/clear_target.h"
#include "refresh/dump.h"
#include "refresh/guard.h"
#include "refresh/refresh.h"
#include "refresh/refresh_report.h"
#include "refresh/restore_dump.h"
#include "refresh/resume_hint.h"
#include "refresh/run_mark.h"
#include "refresh/scratch_dir.h"
#include "refresh/strategy.h"
#include "refresh/swap_database.h"
#include "refresh/table_streams.h"
#include "restore/restore_users.h"
#include "snapshot/snapshot_update.h"

namespace dbrefresh {

class RefreshRun {
 public:
  RefreshRun(const RefreshOptions& options, ProcessRunner& runner)
      : options_(options), config_(options.config), runner_(runner), strategy_(ParseStrategy(options.config.strategy)),
        timestamp_(CompactUtcTimestamp()), restore_target_(options.target), use_snapshot_(options.use_snapshot) {}

  int Run();

 private:
  // When a step began: its work may start before the step itself (the dump starts with the snapshot).
  struct StepStart {
    std::string utc = log::UtcNow();
    std::chrono::steady_clock::time_point steady = std::chrono::steady_clock::now();
  };
  template <typename Body>
  void Step(const std::string& name, Body body, const StepStart& began = StepStart());
  void GuardStep(StepRecord& step);
  void ReopenATargetAKilledSwapClosed(const std::string& db);
  void ResumeFromMark(StepRecord& step);
  void AvoidAnEarlierRunsNames(const std::string& db);
  void MarkTarget(StepRecord& step);
  // How the mark gets the snapshot's sha256: none (the catch-up is about to change the file), now,
  // or computed in the background while the restore runs and written by WriteMarkOnceHashed.
  enum class MarkHash { kNone, kNow, kInBackground };
  void WriteMark(MarkHash hash = MarkHash::kNow);
  void WriteMarkOnceHashed();
  void PrepareCatchUp(StepRecord& step);
  BeforeDrop CatchUpUnderLock(StepRecord& step);
  void RecordLockWindow(StepRecord& step);
  void SwapCatchUp(StepRecord& step);
  void ClearMarkAndPrune();
  void ClearTheMarkOfAKilledSwapsOldDatabase(const std::string& db);
  void ReopenAfterFailure();
  void UndoMarkAndCapture();
  void PreflightStep(StepRecord& step);
  void SnapshotStep(StepRecord& step);
  void StartDump();
  bool StreamingUsable() const;
  std::set<unsigned long> StreamedOids() const;
  PhasedRestore::StartStreams StreamStarter();
  void DumpStep(StepRecord& step);
  void ClearStep(StepRecord& step);
  void ClearBySchema(StepRecord& step);
  void ClearPreservedTables(StepRecord& step);
  void RestoreStep(StepRecord& step);
  RestorePhases PlanPhases();
  void RestoreUsersStep(StepRecord& step);
  void FinishRestore();
  void SwapStep(StepRecord& step);
  void PostCheckStep(StepRecord& step);
  void RecordRestore(const RestoreOutcome& outcome, StepRecord& step);
  int Finish();
  [[noreturn]] void Fail(ExitCode code, const std::string& message);
  void WriteReports();
  ResumeContext Resume(bool after_post_check) const;
  std::string InterruptedLine(const std::string& step) const;

  const RefreshOptions& options_;
  const Config& config_;
  ProcessRunner& runner_;
  Strategy strategy_;
  std::string timestamp_;
  RefreshReport report_;
  std::optional<GuardedSessions> sessions_;
  std::unique_ptr<ScratchDir> scratch_;
  std::string dump_dir_;
  std::unique_ptr<SourceDump> dump_;  // pg_dump running in the background since the snapshot began
  StepStart dump_began_;
  std::unique_ptr<PhasedRestore> phased_;  // restoring the rest of the dump while restore-users runs
  // The largest tables, streamed source -> target instead of dumped (table_streams.h).
  std::unique_ptr<SourceSnapshot> source_snapshot_;  // exported from the dump's start until the streams hold it
  std::vector<StreamedTable> streamed_;
  std::optional<SwapNames> swap_;
  bool drop_fresh_on_failure_ = false;
  ConnectionSpec restore_target_;
  TargetState state_ = TargetState::kUntouched;
  bool snapshot_kept_ = false;
  bool files_planned_ = false;
  long long rows_to_seed_ = 0;
  size_t total_steps_ = 9;
  // A killed run's successor and the mark (run_mark.h).
  std::string use_snapshot_;                  // the snapshot to resume from: --use-snapshot, or the mark's
  std::optional<RunLiveness> liveness_;       // held for the whole run: tells a live run from a dead one
  std::optional<RunMark> mark_;               // as set on the target (by this run or the killed one)
  std::string run_id_;
  // Catching up with a live target (change_capture.h).
  std::unique_ptr<SnapshotUpdater> catch_up_;  // open from the first catch-up to the last
  std::chrono::steady_clock::time_point locked_at_;
  long long caught_up_rows_ = 0;
  bool swap_closed_ = false;                   // the old target refuses connections until the rename
  bool marked_by_this_run_ = false;            // not a killed run's mark: this run may take it back
  std::future<std::string> pending_hash_;      // the snapshot's sha256, computing (MarkHash::kInBackground)
};

}  // namespace dbrefresh
