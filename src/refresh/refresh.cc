// The refresh job: runs the steps in order, records each in the report, and on failure keeps the
// snapshot and says how to resume. Each step's work lives in its own file; this one orchestrates.
#include "refresh/refresh.h"
#include "refresh/refresh_run.h"

#include <chrono>
#include <exception>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "preflight/preflight.h"
#include "refresh/change_capture.h"
#include "refresh/clear_target.h"
#include "refresh/dropped_ddl.h"
#include "refresh/dump.h"
#include "refresh/guard.h"
#include "refresh/post_check.h"
#include "refresh/refresh_report.h"
#include "refresh/restore_dump.h"
#include "refresh/restore_phases.h"
#include "refresh/resume_hint.h"
#include "refresh/run_files.h"
#include "refresh/run_mark.h"
#include "refresh/scratch_dir.h"
#include "refresh/swap_database.h"
#include "refresh/table_streams.h"
#include "refresh/target_sessions.h"
#include "snapshot/take_snapshot.h"

namespace dbrefresh {
namespace {

const char* OnConflictName(OnConflict c) {
  switch (c) {
    case OnConflict::kSkip: return "skip";
    case OnConflict::kUpdate: return "update";
    case OnConflict::kFail: return "fail";
  }
  return "skip";
}

void LogFinding(const Finding& f) {
  if (f.severity == Severity::kBlocking) {
    log::Error("preflight: blocking: " + f.message, {{"code", f.code}});
  } else if (f.severity == Severity::kWarning) {
    log::Warn("preflight: " + f.message, {{"code", f.code}});
  } else {
    log::Info("preflight: " + f.message, {{"code", f.code}});
  }
}

}  // namespace

template <typename Body>
void RefreshRun::Step(const std::string& name, Body body, const StepStart& began) {
  report_.steps.push_back({name, "running", began.utc, 0, {}, nlohmann::json::object()});
  const size_t index = report_.steps.size() - 1;
  log::Info("step " + std::to_string(index + 1) + "/" + std::to_string(total_steps_) + ": " + name);
  SayOnInterrupt(InterruptedLine(name));
  const auto start = began.steady;
  auto finish = [&](const char* status) {
    StepRecord& step = report_.steps[index];
    if (step.status == "running" || std::string(status) == "failed") step.status = status;  // a body may say "skipped"
    step.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  try {
    body(report_.steps[index]);
  } catch (...) {
    finish("failed");
    throw;
  }
  finish("ok");
}

int RefreshRun::Run() {
  report_.started_at = log::UtcNow();
  report_.strategy = ToString(strategy_);
  if (strategy_ == Strategy::kSwap) total_steps_ = 10;
  try {
    Step("guard", [&](StepRecord& s) { GuardStep(s); });
    Step("preflight", [&](StepRecord& s) { PreflightStep(s); });
    Step("snapshot", [&](StepRecord& s) { SnapshotStep(s); });
    Step("dump", [&](StepRecord& s) { DumpStep(s); }, dump_ ? dump_began_ : StepStart());
    Step("clear", [&](StepRecord& s) { ClearStep(s); });
    Step("restore", [&](StepRecord& s) { RestoreStep(s); });
    Step("restore-users", [&](StepRecord& s) { RestoreUsersStep(s); });
    if (strategy_ == Strategy::kSwap) Step("swap", [&](StepRecord& s) { SwapStep(s); });
    Step("post-check", [&](StepRecord& s) { PostCheckStep(s); });
    return Finish();
  } catch (const Error& e) {
    Fail(e.code(), e.what());
  } catch (const std::exception& e) {
    Fail(ExitCode::kFailure, e.what());
  }
}

void RefreshRun::GuardStep(StepRecord& step) {
  // The run lock first: a second run while this one lives must change nothing, not even reopen a target.
  const std::string named_db = DatabaseNameOf(options_.target);
  if (!named_db.empty()) {
    liveness_.emplace(options_.target, named_db);
    ReopenATargetAKilledSwapClosed(named_db);
  }
  sessions_.emplace(Guard(options_.source, options_.target, options_.confirm_target));
  report_.source = sessions_->source.masked;
  report_.target = sessions_->target.masked;
  const std::string& db = sessions_->target.dbname;
  if (!liveness_) liveness_.emplace(options_.target, db);
  mark_ = ReadRunMark(*sessions_->target.conn);
  run_id_ = mark_ ? mark_->run_id : NewRunId();
  if (mark_ && use_snapshot_.empty()) ResumeFromMark(step);
  AvoidAnEarlierRunsNames(db);
  if (strategy_ == Strategy::kSwap) {
    RequireCreatedb(sessions_->target);
    swap_ = PlanSwapNames(db, timestamp_);
  }
  report_.files = PlanRunFiles(config_.snapshot_dir, db, timestamp_);
  if (!use_snapshot_.empty()) report_.files.snapshot = use_snapshot_;  // resuming: the earlier run's snapshot, this run's other files
  files_planned_ = true;
  step.counts = {{"target_database", db}};
}

// A run started in the same second as an earlier one (a retry straight after a failure) would get
// that run's file names, and refuse to overwrite its snapshot: wait for the next second instead.
void RefreshRun::AvoidAnEarlierRunsNames(const std::string& db) {
  auto taken = [&] {
    const RunFiles files = PlanRunFiles(config_.snapshot_dir, db, timestamp_);
    return std::filesystem::exists(files.snapshot) || std::filesystem::exists(files.report);
  };
  for (int waited = 0; taken() && waited < 30; ++waited) {  // bounded: 3 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    timestamp_ = CompactUtcTimestamp();
  }
}

void RefreshRun::PreflightStep(StepRecord& step) {
  if (!use_snapshot_.empty()) {
    // The target is half-restored when resuming: only the client programs are worth checking.
    for (const char* program : {"pg_dump", "pg_restore"}) {
      RequireToolNotOlder(runner_, options_.tools, program, "source", sessions_->source.conn->server_version());
      RequireToolNotOlder(runner_, options_.tools, program, "target", sessions_->target.conn->server_version());
    }
    step.status = "skipped";
    log::Info("preflight: skipped, resuming from an earlier snapshot (client versions checked)");
    return;
  }
  PreflightOptions preflight{ToString(strategy_), options_.tools, &runner_};
  PreflightReport report = Preflight(options_.source, options_.target, config_, preflight);
  for (const auto& f : report.findings) {
    LogFinding(f);
    if (f.severity != Severity::kInfo) step.warnings.push_back(f.message);
  }
  step.counts = {{"verdict", VerdictName(report.verdict())}, {"target_only_objects", report.target_only.size()},
                 {"migrations_only_on_target", report.drift.only_on_target.size()}};
  auto blocking = report.Blocking();
  if (blocking.empty()) return;
  if (!options_.force) {
    throw BlockedError("preflight found " + std::to_string(blocking.size()) + " blocking problem(s), nothing changed: " +
                       blocking.front()->message + (blocking.size() > 1 ? " (all are listed above)" : "") +
                       "; fix them, or pass --force to go on anyway");
  }
  log::Warn("--force: going on despite " + std::to_string(blocking.size()) + " blocking preflight finding(s)");
}

void RefreshRun::SnapshotStep(StepRecord& step) {
  PrepareSnapshotDir(config_.snapshot_dir);
  if (!use_snapshot_.empty()) {
    SnapshotReader verified(use_snapshot_);
    snapshot_kept_ = true;
    step.status = "skipped";
    step.counts = {{"using", use_snapshot_}};
    log::Info("snapshot: skipped, using the snapshot of an earlier run", {{"file", use_snapshot_}});
    if (!mark_) MarkTarget(step);
    return;
  }
  if (std::filesystem::exists(report_.files.snapshot)) {
    throw Failure("the snapshot file " + report_.files.snapshot + " exists already (another run in the same second?)");
  }
  std::vector<std::string> tables;
  for (const auto& p : config_.preserve) tables.push_back(p.table);
  // Before the snapshot's transaction begins: every later write to a preserved table is logged.
  auto end_others = [&] {
    if (config_.terminate_connections) TerminateOtherSessions(*sessions_->target.conn, sessions_->target.dbname);
  };
  for (const auto& w : InstallCapture(*sessions_->target.conn, config_.schema, tables, config_.lock_timeout_seconds,
                                      end_others)) {
    step.warnings.push_back(w);
    log::Warn(w);
  }
  marked_by_this_run_ = true;  // the capture is this run's to take back should it fail before any change
  StartDump();  // reads the source while the snapshot reads the target
  SnapshotSummary summary = TakeSnapshot(sessions_->target, options_.target, config_, report_.files.snapshot, run_id_);
  snapshot_kept_ = true;
  for (const auto& [table, rows] : summary.row_counts) step.counts[table] = rows;
  log::Info("snapshot written", {{"file", summary.path}, {"flyway_version", summary.flyway_version}});
  for (const auto& file : PruneStalePartials(config_.snapshot_dir, sessions_->target.dbname, report_.files.stem)) {
    log::Info("removed the half-written snapshot of a run that was killed", {{"file", file}});
  }
  MarkTarget(step);
}

void RefreshRun::StartDump() {
  scratch_ = std::make_unique<ScratchDir>("dump");
  dump_dir_ = scratch_->File("dump");
  dump_began_ = StepStart();
  DumpShare share;
  if (StreamingUsable()) {
    source_snapshot_ = std::make_unique<SourceSnapshot>(options_.source);
    streamed_ = source_snapshot_->ChooseTables(config_, DumpedSchemas(*sessions_->source.conn));
    if (streamed_.empty()) {
      source_snapshot_.reset();
    } else {
      share.snapshot_id = source_snapshot_->id();
      long long bytes = 0;
      for (const auto& t : streamed_) {
        share.exclude_table_data.push_back(t.DumpPattern());
        bytes += t.bytes;
      }
      log::Info("dump: the largest tables' data streams into the target after the clear, not through the dump",
                {{"tables", streamed_.size()}, {"bytes", bytes}});
    }
  }
  dump_ = std::make_unique<SourceDump>(runner_, options_.tools, options_.source, config_, dump_dir_, share);
}

// Streaming needs the restore to go by item lists (not strategy clean, whose pg_restore --clean
// drops what it restores) and a dump of pg_dump's default contents (no pg_dump_args choosing them).
bool RefreshRun::StreamingUsable() const {
  return config_.stream_min_table_mb >= 0 && strategy_ != Strategy::kClean && config_.pg_dump_args.empty() &&
         RestoreArgChoosingItems(config_).empty();
}

std::set<unsigned long> RefreshRun::StreamedOids() const {
  std::set<unsigned long> oids;
  for (const auto& t : streamed_) oids.insert(t.oid);
  return oids;
}

// Once the target has the schema: the streams start, and the source's exported snapshot is let go
// as soon as each stream's session holds it.
PhasedRestore::StartStreams RefreshRun::StreamStarter() {
  if (streamed_.empty()) return {};
  return [this] {
    auto streams = std::make_unique<TableStreams>(options_.source, restore_target_, source_snapshot_->id(), streamed_,
                                                  config_.jobs, config_.lock_timeout_seconds);
    streams->WaitUntilImported();
    source_snapshot_->Release();
    return streams;
  };
}

void RefreshRun::DumpStep(StepRecord& step) {
  if (dump_) {
    log::Info("dump: pg_dump has been running since the snapshot began; waiting for it");
  } else {
    StartDump();  // resuming with --use-snapshot: no snapshot step ran
  }
  dump_->Wait();
  dump_.reset();
  std::uintmax_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dump_dir_)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  step.counts = {{"bytes", bytes}};
}

void RefreshRun::ClearStep(StepRecord& step) {
  switch (strategy_) {
    case Strategy::kSchema:
      ClearBySchema(step);
      break;
    case Strategy::kClean:
      ClearPreservedTables(step);
      break;
    case Strategy::kSwap:
      PrepareCatchUp(step);  // the rest, with the old target closed, right before the rename
      drop_fresh_on_failure_ = true;
      restore_target_ = CreateFreshDatabase(options_.target, *swap_);
      step.counts = {{"database", swap_->fresh}};
      break;
  }
}

void RefreshRun::ClearBySchema(StepRecord& step) {
  pqxx::connection& target = *sessions_->target.conn;
  std::vector<std::string> schemas = DumpedSchemas(*sessions_->source.conn);
  std::vector<SchemaObject> objects = ListTargetOnlyObjects(*sessions_->source.conn, target, schemas);
  WriteDroppedDdl(runner_, options_.tools, options_.target, target, objects, report_.files.dropped_sql,
                  config_.lock_timeout_seconds);
  report_.dropped_written = true;
  PrepareCatchUp(step);
  ClearOutcome outcome = DropSchemas(target, sessions_->target.dbname, schemas, config_, CatchUpUnderLock(step));
  state_ = TargetState::kIncomplete;
  RecordLockWindow(step);
  step.warnings.insert(step.warnings.end(), outcome.warnings.begin(), outcome.warnings.end());
  step.counts.update({{"schemas", schemas}, {"target_only_objects", objects.size()}, {"attempts", outcome.attempts},
                      {"sessions_ended", outcome.sessions_ended}});
}

// Strategy clean: pg_restore --clean would drop the preserved tables itself, after the catch-up had
// let go of its lock, and a write in between would be lost. So the preserved tables go here, in
// the catch-up's transaction; pg_restore --clean --if-exists drops the rest as it always did.
void RefreshRun::ClearPreservedTables(StepRecord& step) {
  PrepareCatchUp(step);
  std::vector<std::string> tables;
  for (const auto& p : config_.preserve) tables.push_back(p.table);
  ClearOutcome outcome = DropPreservedTables(*sessions_->target.conn, sessions_->target.dbname, config_.schema, tables,
                                             config_, CatchUpUnderLock(step));
  state_ = TargetState::kIncomplete;
  RecordLockWindow(step);
  step.counts.update({{"attempts", outcome.attempts}, {"sessions_ended", outcome.sessions_ended}});
  log::Info("clear: strategy clean, pg_restore --clean --if-exists drops the other restored objects itself");
}

void RefreshRun::RestoreStep(StepRecord& step) {
  if (strategy_ == Strategy::kClean) state_ = TargetState::kIncomplete;
  step.counts = {{"database", strategy_ == Strategy::kSwap ? swap_->fresh : sessions_->target.dbname}};
  if (!streamed_.empty()) {
    std::vector<std::string> names;
    for (const auto& t : streamed_) names.push_back(t.schema + "." + t.name);
    step.counts["streamed_tables"] = names;
  }
  RestorePhases phases = PlanPhases();
  if (phases.usable()) {
    // The target stays incomplete until FinishRestore, after restore-users.
    phased_ = std::make_unique<PhasedRestore>(runner_, options_.tools, restore_target_, config_, dump_dir_,
                                              std::move(phases), scratch_->path(), StreamStarter());
    phased_->Begin();
    step.counts["rest_of_dump"] = "restoring while restore-users runs";
    return;
  }
  if (!streamed_.empty()) {
    log::Info("restore: the whole dump with the streamed tables, then restore-users", {{"why", phases.why_not}});
    PhasedRestore whole(runner_, options_.tools, restore_target_, config_, dump_dir_,
                        SectionPhases(ListToc(runner_, options_.tools, dump_dir_)), scratch_->path(), StreamStarter());
    whole.Begin();
    whole.Finish();
    scratch_.reset();
    if (strategy_ != Strategy::kSwap) state_ = TargetState::kRestored;
    return;
  }
  log::Info("restore: the whole dump, then restore-users", {{"why", phases.why_not}});
  RestoreDump(runner_, options_.tools, restore_target_, config_, dump_dir_, strategy_ == Strategy::kClean);
  scratch_.reset();
  if (strategy_ != Strategy::kSwap) state_ = TargetState::kRestored;
}

// Whether the restore can go in phases (restore_phases.h), and which. Not for strategy clean, whose
// pg_restore --clean drops what it restores, and not when pg_restore_args choose items themselves.
RestorePhases RefreshRun::PlanPhases() {
  RestorePhases refused;
  if (strategy_ == Strategy::kClean) {
    refused.why_not = "strategy clean";
    return refused;
  }
  const std::string choosing = RestoreArgChoosingItems(config_);
  if (!choosing.empty()) {
    refused.why_not = "pg_restore_args has " + choosing;
    return refused;
  }
  try {
    SnapshotReader snapshot(report_.files.snapshot);
    std::vector<std::string> tables;
    for (const auto& t : snapshot.tables()) tables.push_back(t.info.name);
    const std::string schema = snapshot.Meta("schema").empty() ? config_.schema : snapshot.Meta("schema");
    return PlanRestorePhases(*sessions_->source.conn, schema, tables, ListToc(runner_, options_.tools, dump_dir_),
                             StreamedOids());
  } catch (const std::exception& e) {
    // The phases only save time: whatever stops planning them, the whole restore still works.
    refused.why_not = e.what();
    return refused;
  }
}

void RefreshRun::RecordRestore(const RestoreOutcome& outcome, StepRecord& step) {
  report_.tables = outcome.tables;
  rows_to_seed_ = outcome.rows_to_seed;
  report_.seed_written = outcome.rows_to_seed > 0;
  step.warnings.insert(step.warnings.end(), outcome.warnings.begin(), outcome.warnings.end());
  for (const auto& t : outcome.tables) step.counts[t.table] = ToJson(t);
}

void RefreshRun::RestoreUsersStep(StepRecord& step) {
  WriteMarkOnceHashed();  // hashed while the restore began
  SnapshotReader snapshot(report_.files.snapshot);
  RestoreOptions restore{options_.on_conflict, false, report_.files.seed_sql};
  if (!phased_) {
    RecordRestore(RestoreUsers(snapshot, restore_target_, config_, restore), step);
    return;
  }
  // The rest of the dump is restoring meanwhile. Whatever restore-users does, the restore is then
  // completed: a target with all of prod's data needs only restore-users again, not a whole refresh.
  std::exception_ptr users_failed;
  try {
    RecordRestore(RestoreUsers(snapshot, restore_target_, config_, restore), step);
  } catch (const std::exception& e) {
    users_failed = std::current_exception();
    log::Info("restore-users failed; completing the restore of the dump before stopping", {{"error", e.what()}});
  }
  const auto start = std::chrono::steady_clock::now();
  FinishRestore();
  const std::chrono::duration<double> waited = std::chrono::steady_clock::now() - start;
  step.counts["rest_of_dump_waited_seconds"] = waited.count();
  if (users_failed) std::rethrow_exception(users_failed);
}

void RefreshRun::FinishRestore() {
  phased_->Finish();
  phased_.reset();
  scratch_.reset();
  if (strategy_ != Strategy::kSwap) state_ = TargetState::kRestored;
}

void RefreshRun::PostCheckStep(StepRecord& step) {
  SnapshotReader snapshot(report_.files.snapshot);
  RestoreOptions restore{options_.on_conflict, false, report_.files.seed_sql};
  PostCheckOutcome out = PostCheck(snapshot, options_.target, config_, runner_, restore);
  step.warnings = out.warnings;
  step.counts = {{"snapshot_flyway_version", out.snapshot_version}, {"restored_flyway_version", out.restored_version},
                 {"missing_versions", out.missing_versions}, {"target_was_ahead", out.target_was_ahead},
                 {"migrations_reapplied", out.migrations_reapplied}};
  if (out.second_restore) RecordRestore(*out.second_restore, step);
  if (out.target_was_ahead && !out.migrations_reapplied) {
    step.warnings.push_back("once the migrations are re-applied, fill their columns from the snapshot, " +
                            RestoreUsersHint(Resume(true)));
    log::Warn(step.warnings.back());
  }
}

int RefreshRun::Finish() {
  const int exit_code = ToInt(rows_to_seed_ > 0 ? ExitCode::kRowsToSeed : ExitCode::kOk);
  Step("report", [&](StepRecord& step) {
    ClearMarkAndPrune();
    step.counts = {{"exit_code", exit_code}};
  });
  report_.exit_code = exit_code;
  report_.finished_at = log::UtcNow();
  WriteReports();
  LogSummary(report_);
  if (rows_to_seed_ > 0) {
    log::Warn(std::to_string(rows_to_seed_) + " preserved row(s) could not be inserted; they are in " +
              report_.files.seed_sql + ": review it, then run psql -v ON_ERROR_STOP=1 -f " + report_.files.seed_sql);
  }
  PrintPaths(report_, std::cout);
  return exit_code;
}

void RefreshRun::WriteReports() {
  if (snapshot_kept_ || report_.dropped_written) WriteReport(report_, report_.files.report);
  if (!options_.report_path.empty()) WriteReport(report_, options_.report_path);
}

ResumeContext RefreshRun::Resume(bool after_post_check) const {
  ResumeContext c;
  c.state = state_;
  c.snapshot_kept = snapshot_kept_;
  c.snapshot = report_.files.snapshot;
  c.source_masked = report_.source;
  c.target_masked = report_.target;
  c.target_db = sessions_ ? sessions_->target.dbname : "";
  c.strategy = ToString(strategy_);
  c.on_conflict = after_post_check ? "update" : OnConflictName(options_.on_conflict);
  c.shared_args = options_.shared_args;
  c.refresh_args = options_.refresh_args;
  return c;
}

// What a SIGTERM/SIGINT ending the run during `step` (while no child program runs) leaves as the
// last log line: the resume command as of the step's start, assuming the worst the step can do.
std::string RefreshRun::InterruptedLine(const std::string& step) const {
  ResumeContext context = Resume(step == "post-check");
  const bool replacing_target = strategy_ != Strategy::kSwap && (step == "clear" || step == "restore");
  if (replacing_target && context.state == TargetState::kUntouched) context.state = TargetState::kIncomplete;
  std::string hint = files_planned_ ? ResumeHint(context) : "";
  if (hint.empty()) hint = "Nothing was changed; run the same command again.";
  const std::string message = "interrupted by a signal during step " + step +
                              "; the servers roll back what it had not committed. " + hint;
  if (log::CurrentFormat() == log::Format::kJson) {
    // No "time": the line is prepared when the step starts, not when the signal comes.
    return nlohmann::json({{"level", "error"}, {"msg", message}})
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return "error: " + message;
}

void RefreshRun::Fail(ExitCode code, const std::string& message) {
  const std::string failed_step = report_.steps.empty() ? "" : report_.steps.back().name;
  // restore-users refused rows the target has too: the same command would refuse them again.
  const bool conflict_refused = code == ExitCode::kBlocked && failed_step == "restore-users" &&
                                options_.on_conflict == OnConflict::kFail;
  // Exit 4 promises that nothing changed; once the target has been cleared it is a plain failure.
  if (code == ExitCode::kBlocked && state_ != TargetState::kUntouched) code = ExitCode::kFailure;
  dump_.reset();    // stops a dump still running in the background (the snapshot failed)
  phased_.reset();  // stops a restore still running in the background (its database may be dropped next)
  if (drop_fresh_on_failure_ && swap_) DropFreshDatabase(options_.target, *swap_);
  if (swap_closed_) ReopenAfterFailure();
  if (state_ == TargetState::kUntouched && marked_by_this_run_) UndoMarkAndCapture();
  report_.exit_code = ToInt(code);
  report_.error = message;
  ResumeContext resume = Resume(failed_step == "post-check");
  if (conflict_refused) {
    resume.on_conflict = "skip";
    resume.note = "--on-conflict fail would stop again; skip keeps the target's row where both have one, update "
                  "writes the snapshot's values over it";
  }
  report_.resume = files_planned_ ? ResumeHint(resume) : "";
  report_.finished_at = log::UtcNow();
  try {
    WriteReports();
  } catch (const Error& e) {
    log::Warn(std::string("could not write the report: ") + e.what());
  }
  LogSummary(report_);
  if (snapshot_kept_) PrintPaths(report_, std::cout);
  throw Error(code, report_.resume.empty() ? message : message + ". " + report_.resume);
}

int Refresh(const RefreshOptions& options, ProcessRunner& runner) {
  RefreshRun run(options, runner);
  return run.Run();
}

}  // namespace dbrefresh
