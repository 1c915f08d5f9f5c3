// The post-check: flyway version comparison, post-restore command, wait, second restore-users.
#include "refresh/post_check.h"

#include <chrono>
#include <thread>

#include "catalog/catalog.h"
#include "catalog/flyway_version.h"
#include "common/error.h"
#include "common/log.h"
#include "connect/pg_session.h"

namespace dbrefresh {
namespace {

constexpr int kPollSeconds = 2;

std::string CurrentVersion(const ConnectionSpec& target, const Config& config) {
  PgSession session = OpenSession(target, Access::kReadOnly);
  try {
    pqxx::read_transaction tx(*session.conn);
    auto migrations = catalog::ReadMigrations(tx, config.schema, config.migration_table);
    return migrations.empty() ? "" : migrations.back().version;
  } catch (...) {
    RethrowDatabaseError("reading the flyway history of " + session.masked);
  }
}

void RunPostRestoreCommand(ProcessRunner& runner, const Config& config) {
  ProcessSpec spec;
  spec.argv = config.post_restore_command;
  spec.on_stdout_line = [](const std::string& line) { log::Info("post-restore command: " + line); };
  spec.on_stderr_line = [](const std::string& line) { log::Info("post-restore command: " + line); };
  RequireSuccess(runner.Run(spec), "the post-restore command");
}

// Polls until the target reaches `wanted` or the deadline passes; returns the last version seen.
std::string WaitForVersion(const ConnectionSpec& target, const Config& config, const std::string& wanted) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.wait_for_migrations_seconds);
  std::string current = CurrentVersion(target, config);
  while (TargetWasAhead(wanted, current) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(kPollSeconds));
    current = CurrentVersion(target, config);
    log::Info("waiting for migrations", {{"target_version", current}, {"wanted", wanted}});
  }
  return current;
}

}  // namespace

bool TargetWasAhead(const std::string& snapshot_version, const std::string& restored_version) {
  if (snapshot_version.empty()) return false;
  return restored_version.empty() || CompareFlywayVersions(snapshot_version, restored_version) > 0;
}

PostCheckOutcome PostCheck(const SnapshotReader& snapshot, const ConnectionSpec& target, const Config& config,
                           ProcessRunner& runner, const RestoreOptions& restore_options) {
  PostCheckOutcome out;
  out.snapshot_version = snapshot.Meta("flyway_version");
  out.restored_version = CurrentVersion(target, config);
  out.target_was_ahead = TargetWasAhead(out.snapshot_version, out.restored_version);
  if (!out.target_was_ahead) {
    log::Info("post-check: the target's migrations are not behind what it had", {{"flyway_version", out.restored_version}});
    return out;
  }
  log::Warn("post-check: the target was on newer migrations than the source",
            {{"before", out.snapshot_version}, {"after_restore", out.restored_version}});
  if (!config.post_restore_command.empty()) RunPostRestoreCommand(runner, config);
  std::string now = config.wait_for_migrations_seconds > 0 ? WaitForVersion(target, config, out.snapshot_version)
                                                           : CurrentVersion(target, config);
  out.migrations_reapplied = !TargetWasAhead(out.snapshot_version, now);
  if (!out.migrations_reapplied && config.wait_for_migrations_seconds > 0) {
    throw Failure("the migrations were not re-applied within " + std::to_string(config.wait_for_migrations_seconds) +
                  " s: the target is at flyway version " + (now.empty() ? "(none)" : now) + ", it was at " + out.snapshot_version);
  }
  if (!out.migrations_reapplied) {
    out.warnings.push_back("the target was at flyway version " + out.snapshot_version + " and is now at " + out.restored_version +
                           ": columns only in the snapshot await the re-applied migrations");
    log::Warn(out.warnings.back());
    return out;
  }
  log::Info("post-check: migrations re-applied; filling the re-added columns from the snapshot", {{"flyway_version", now}});
  RestoreOptions update = restore_options;
  update.on_conflict = OnConflict::kUpdate;
  out.second_restore = RestoreUsers(snapshot, target, config, update);
  return out;
}

}  // namespace dbrefresh
