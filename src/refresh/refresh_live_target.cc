// A live target and a killed run (SPEC section 5, the live-preprod issue): the mark that lets the
// same command resume a killed run, the catch-up that brings the snapshot up to date with the
// application's writes before the old contents go, the swap's closed window, and what a failed run
// takes back or reopens.
#include <filesystem>

#include "common/error.h"
#include "refresh/change_capture.h"
#include "refresh/refresh_run.h"
#include "refresh/run_files.h"
#include "refresh/swap_catch_up.h"
#include "refresh/target_sessions.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh {

// A swap killed between closing the old target to connections and the rename leaves it closed (and
// its new database beside it): nobody could connect, this run included. Reopened only for the run
// the refresh was confirmed for.
void RefreshRun::ReopenATargetAKilledSwapClosed(const std::string& db) {
  if (!LeftClosedByAKilledSwap(liveness_->maintenance(), db)) return;
  if (options_.confirm_target != db) return;  // the guard refuses the run next
  SetAllowConnections(liveness_->maintenance(), db, true);
  log::Warn("a killed swap had closed the target to new connections; they are allowed again", {{"database", db}});
}

// The target is marked: a run was killed while replacing it, and its snapshot holds the people.
// Resume from exactly that file (verified as inspect verifies it, and the run and hash it was
// marked with), never from a new snapshot of the half-refreshed target, never from another file.
void RefreshRun::ResumeFromMark(StepRecord& step) {
  namespace fs = std::filesystem;
  std::string file = (fs::path(config_.snapshot_dir) / mark_->snapshot_file).string();
  if (!fs::exists(file) && !mark_->snapshot_path.empty() && fs::exists(mark_->snapshot_path)) file = mark_->snapshot_path;
  const std::string hint = "dbrefresh refresh ... --use-snapshot " + (mark_->snapshot_path.empty() ? file : mark_->snapshot_path);
  if (!fs::exists(file)) {
    throw BlockedError("the target " + sessions_->target.dbname + " is marked as being refreshed by run " + mark_->run_id +
                       ", which was killed; its snapshot " + mark_->snapshot_file + " is not in " + config_.snapshot_dir +
                       " (another volume?). Run the same command where that file is, or give it: " + hint +
                       "; nothing was changed");
  }
  SnapshotReader verified(file);  // exit 6 when damaged
  if (!verified.Meta("run_id").empty() && verified.Meta("run_id") != mark_->run_id) {
    throw BlockedError("the snapshot " + file + " is not the one the target's mark names (run " + mark_->run_id +
                       ", the file says run " + verified.Meta("run_id") + "); nothing was changed");
  }
  if (!mark_->sha256.empty() && Sha256OfFile(file) != mark_->sha256) {
    throw BlockedError("the snapshot " + file + " has changed since run " + mark_->run_id +
                       " marked the target (sha256 differs); nothing was changed. Check the file, then: " + hint);
  }
  use_snapshot_ = file;
  report_.resumed_from = mark_->ToJson();
  step.counts["resumed_run"] = mark_->run_id;
  log::Warn("the target is marked by run " + mark_->run_id + ", which was killed: resuming from its snapshot, "
            "not taking a new one", {{"snapshot", file}, {"marked_at", mark_->started_at}});
}

// Before the target is first changed: the mark names this run and its snapshot, on the target
// (found again by any pod) and beside the snapshot.
void RefreshRun::MarkTarget(StepRecord& step) {
  namespace fs = std::filesystem;
  const std::string& snapshot = report_.files.snapshot;
  if (!use_snapshot_.empty()) {
    const std::string given_run = SnapshotReader(snapshot).Meta("run_id");  // "" in a version-1 file
    if (!given_run.empty()) run_id_ = given_run;
  }
  RunMark mark;
  mark.run_id = run_id_;
  mark.snapshot_file = fs::path(snapshot).filename().string();
  mark.snapshot_path = fs::absolute(snapshot).lexically_normal().string();
  mark.strategy = ToString(strategy_);
  mark.started_at = report_.started_at;
  mark_ = mark;
  // A fresh snapshot is about to be caught up (its capture is installed): its hash would be stale
  // at the clear, so the mark goes without one until then (0.3 s per 200 MB saved before the clear).
  WriteMark(use_snapshot_.empty() ? MarkHash::kNone : MarkHash::kNow);
  marked_by_this_run_ = true;
  step.counts["marked_by_run"] = run_id_;
  log::Info("marked the target as being refreshed (a killed run is resumed from this snapshot)",
            {{"run_id", run_id_}, {"snapshot", mark.snapshot_file}});
}

// Records the mark with the snapshot's current hash, on the target and beside the snapshot. A mark
// without a hash (kNone, or kInBackground until WriteMarkOnceHashed) leaves a killed run's successor
// checking the file by run id and content, as every reader does.
void RefreshRun::WriteMark(MarkHash hash) {
  WriteMarkOnceHashed();  // never two hashes in flight, nor a late one over a newer mark
  const std::string& snapshot = report_.files.snapshot;
  mark_->sha256 = hash == MarkHash::kNow ? Sha256OfFile(snapshot) : "";
  WriteRunMark(*sessions_->target.conn, *mark_);
  WritePrivateFile(report_.files.mark, mark_->ToJson().dump(2) + "\n");
  if (hash == MarkHash::kInBackground) pending_hash_ = std::async(std::launch::async, Sha256OfFile, snapshot);
}

void RefreshRun::WriteMarkOnceHashed() {
  if (!pending_hash_.valid()) return;
  mark_->sha256 = pending_hash_.get();
  WriteRunMark(*sessions_->target.conn, *mark_);
  WritePrivateFile(report_.files.mark, mark_->ToJson().dump(2) + "\n");
}

// The first catch-up, without locks: everything the target's application wrote since the
// snapshot began, applied to the snapshot and removed from the log, so that the catch-up under
// the lock has only the last moments' writes to apply. Nothing to do when the target has no
// capture: a killed run's successor after that run's drop (the log went with it).
void RefreshRun::PrepareCatchUp(StepRecord& step) {
  pqxx::connection& target = *sessions_->target.conn;
  try {
    pqxx::read_transaction probe(target);
    if (!HasCapture(probe)) return;
  } catch (...) {
    RethrowDatabaseError("looking for the change capture on the target");
  }
  WriteMark(MarkHash::kNone);
  catch_up_ = std::make_unique<SnapshotUpdater>(report_.files.snapshot);
  long long rows = 0;
  try {
    // The tables changed here get their key indexed here, not under the lock (SnapshotUpdater::Apply).
    // On disk before the log forgets them.
    rows = ConsumeCapturedChanges(target, config_.schema, catch_up_->tables(),
                                  [this](const std::vector<TableChanges>& changes) { return ApplyToSnapshot(*catch_up_, changes); });
  } catch (const Error&) {
    throw;
  } catch (...) {
    RethrowDatabaseError("catching up with the target's writes since the snapshot");
  }
  caught_up_rows_ += rows;
  if (strategy_ == Strategy::kSwap) WriteMark(MarkHash::kInBackground);  // stable until the swap step
  step.counts["caught_up_rows_unlocked"] = rows;
  log::Info("caught up with the target's writes since the snapshot (no lock)", {{"rows", rows}});
}

// The catch-up under the lock, in the transaction that then lets the old contents go: writes wait
// (reads go on) from the LOCK to the commit; the snapshot has every committed row before the drop.
BeforeDrop RefreshRun::CatchUpUnderLock(StepRecord& step) {
  if (!catch_up_) return {};
  return [this, &step](pqxx::work& tx) {
    std::vector<std::string> tables;
    for (const auto& t : catch_up_->tables()) tables.push_back(t.info.name);
    locked_at_ = std::chrono::steady_clock::now();
    LockPreservedTables(tx, config_.schema, tables);
    auto changes = ReadCapturedChanges(tx, config_.schema, catch_up_->tables(), /*consume=*/false);
    const long long rows = ApplyToSnapshot(*catch_up_, changes);
    DropCapture(tx);
    step.counts["caught_up_rows_locked"] = rows;
    caught_up_rows_ += rows;  // a retried attempt applies its rows again: idempotent, counted again
  };
}

void RefreshRun::RecordLockWindow(StepRecord& step) {
  if (!catch_up_) return;
  const double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - locked_at_).count();
  catch_up_.reset();
  WriteMark(MarkHash::kInBackground);  // the file is final: its hash again, while the restore begins
  step.counts["caught_up_rows"] = caught_up_rows_;
  step.counts["lock_window_seconds"] = window;
  log::Info("the snapshot is up to date with every committed write; the preserved tables were locked for " +
                std::to_string(window).substr(0, 5) + " s",
            {{"rows_caught_up", caught_up_rows_}, {"lock_window_seconds", window}});
}

// The old target is closed to new sessions and emptied of the others, then caught up and the catch-up
// applied to the new database, then renamed: no write to the old target is ever left behind.
void RefreshRun::SwapStep(StepRecord& step) {
  const std::string& db = sessions_->target.dbname;
  // Before the old target closes: what the new database takes over (owner, grants, settings) and the
  // mark (without a hash: the catch-up is about to change the file), so that it follows the name.
  step.warnings = CopyDatabaseSettings(options_.target, *swap_);
  WriteMarkOnceHashed();
  mark_->swapped_out.push_back(swap_->before);  // in the mark both databases carry from here on
  if (catch_up_) WriteMark(MarkHash::kNone);
  WriteRunMark(*OpenSession(restore_target_, Access::kReadWrite).conn, *mark_);
  locked_at_ = std::chrono::steady_clock::now();
  SetAllowConnections(liveness_->maintenance(), db, false);
  swap_closed_ = true;
  step.counts["sessions_ended"] = EndOtherSessions(*sessions_->target.conn, db, config_);
  SwapCatchUp(step);
  drop_fresh_on_failure_ = false;  // from here on the fresh database is complete: keep it
  sessions_->target.conn.reset();  // our own session would prevent the rename
  RenameIntoPlace(options_.target, *swap_, config_);
  swap_closed_ = false;
  const double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - locked_at_).count();
  SetAllowConnections(liveness_->maintenance(), swap_->before, true);  // people may still look into the old one
  state_ = TargetState::kRestored;
  restore_target_ = options_.target;
  if (caught_up_rows_ > 0 || !mark_->sha256.empty()) {
    mark_->sha256 = Sha256OfFile(report_.files.snapshot);  // the file is final
    WriteRunMark(*OpenSession(options_.target, Access::kReadWrite).conn, *mark_);
  }
  step.counts["old_database_kept_as"] = swap_->before;
  step.counts["caught_up_rows"] = caught_up_rows_;
  step.counts["lock_window_seconds"] = window;
  log::Info("the target was closed to connections for " + std::to_string(window).substr(0, 5) + " s",
            {{"rows_caught_up", caught_up_rows_}, {"lock_window_seconds", window}});
}

void RefreshRun::SwapCatchUp(StepRecord& step) {
  if (!catch_up_) return;
  std::vector<TableChanges> changes;
  try {
    pqxx::work tx(*sessions_->target.conn);
    changes = ReadCapturedChanges(tx, config_.schema, catch_up_->tables(), /*consume=*/false);
    caught_up_rows_ += ApplyToSnapshot(*catch_up_, changes);
    DropCapture(tx);  // the old database keeps no trigger of ours
    tx.commit();
  } catch (const Error&) {
    throw;
  } catch (...) {
    RethrowDatabaseError("catching up with the target's last writes");
  }
  catch_up_.reset();  // its hash is taken once the target is open again
  RestoreOptions restore{options_.on_conflict, false, report_.files.catch_up_seed_sql};
  SwapCatchUpOutcome applied = ApplyCatchUpToFresh(changes, SnapshotReader(report_.files.snapshot),
                                                   *sessions_->source.conn, restore_target_, config_, restore,
                                                   report_.files.catch_up_db);
  step.counts["catch_up_deleted"] = applied.deleted;
  step.counts["catch_up_updated"] = applied.updated;
  for (const auto& t : applied.inserted.tables) step.counts["catch_up_" + t.table] = ToJson(t);
  rows_to_seed_ += applied.inserted.rows_to_seed;
  step.warnings.insert(step.warnings.end(), applied.inserted.warnings.begin(), applied.inserted.warnings.end());
}

// The run has finished: the target is no longer being replaced, and older runs' files may go. Only
// now: a run that fails keeps every file, and a snapshot the mark names is still needed.
void RefreshRun::ClearMarkAndPrune() {
  const std::string& db = sessions_->target.dbname;
  ClearRunMark(*OpenSession(options_.target, Access::kReadWrite).conn);
  if (swap_) {  // the old database kept its copy of the mark
    ClearRunMark(*OpenSession({WithDatabase(options_.target.conninfo, swap_->before), swap_->before}, Access::kReadWrite).conn);
    for (const auto& old : mark_->swapped_out) {
      if (old != swap_->before) ClearTheMarkOfAKilledSwapsOldDatabase(old);
    }
  }
  log::Info("cleared the target's refresh mark", {{"run_id", run_id_}});
  const std::string used = RunStemOf(report_.files.snapshot, db);
  for (const auto& stem : PruneOldRuns(config_.snapshot_dir, db, config_.keep_snapshots, report_.files.stem, {used})) {
    log::Info("removed the files of an old run (--keep-snapshots)", {{"run", stem}});
  }
  // A killed swap that this run resumed may have renamed the target before it died: its old database
  // is the target as it was before the refresh, which this run's swap has pushed down the list.
  if (swap_) PruneBeforeDatabases(options_.target, *swap_, config_.keep_before_databases, mark_->swapped_out);
}

// A killed swap's old database carries the mark too: cleared, so that it is never taken for a target
// being refreshed should someone rename it back into place. It may be gone (dropped by hand, or the
// swap died before its rename) or closed (the swap died before opening it again): then it is left.
void RefreshRun::ClearTheMarkOfAKilledSwapsOldDatabase(const std::string& db) {
  try {
    pqxx::read_transaction tx(liveness_->maintenance());
    if (tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1 AND datallowconn", db).empty()) return;
  } catch (...) {
    return;
  }
  try {
    ClearRunMark(*OpenSession({WithDatabase(options_.target.conninfo, db), db}, Access::kReadWrite).conn);
  } catch (const std::exception& e) {
    log::Warn("could not clear the refresh mark of " + db + " (a killed swap's old database)",
              {{"reason", std::string(e.what()).substr(0, std::string(e.what()).find('\n'))}});
  }
}

// A run that fails before it changed the target's data leaves nothing of its own there: no trigger
// logging preprod's writes until some next run, no mark. The next run takes a new snapshot of the
// whole target. (A killed run cannot do this; its successor resumes from the mark instead. A run
// that resumed a killed one keeps them: the target may be the killed run's half-refreshed one.)
void RefreshRun::UndoMarkAndCapture() {
  if (!sessions_ || !sessions_->target.conn) return;
  try {
    pqxx::work tx(*sessions_->target.conn);
    tx.exec("SET LOCAL lock_timeout = '" + std::to_string(config_.lock_timeout_seconds) + "s'");
    DropCapture(tx);
    tx.commit();
    if (mark_) ClearRunMark(*sessions_->target.conn);
    log::Info("removed this run's change capture and mark from the target: it is as it was");
  } catch (const std::exception& e) {
    log::Warn("could not remove this run's change capture and mark from the target; the next run resumes from them",
              {{"reason", std::string(e.what()).substr(0, std::string(e.what()).find('\n'))}});
  }
}

void RefreshRun::ReopenAfterFailure() {
  try {
    SetAllowConnections(liveness_->maintenance(), swap_->target, true);
    swap_closed_ = false;
  } catch (const std::exception& e) {
    log::Warn("could not allow connections to " + swap_->target + " again: run ALTER DATABASE " + swap_->target +
              " ALLOW_CONNECTIONS true", {{"reason", e.what()}});
  }
}

}  // namespace dbrefresh
