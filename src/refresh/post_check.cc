// The post-check: flyway version comparison, post-restore command, wait, second restore-users.
#include "refresh/post_check.h"

#include <chrono>

#include <nlohmann/json.hpp>
#include <thread>

#include "catalog/catalog.h"
#include "catalog/flyway_version.h"
#include "common/error.h"
#include "common/log.h"
#include "connect/pg_session.h"
#include "preflight/migration_drift.h"

namespace dbrefresh {
namespace {

constexpr int kPollSeconds = 2;

std::vector<std::string> CurrentVersions(const ConnectionSpec& target, const Config& config) {
  PgSession session = OpenSession(target, Access::kReadOnly);
  try {
    pqxx::read_transaction tx(*session.conn);
    std::vector<std::string> versions;
    for (const auto& m : catalog::ReadMigrations(tx, config.schema, config.migration_table)) versions.push_back(m.version);
    return versions;
  } catch (...) {
    RethrowDatabaseError("reading the flyway history of " + session.masked);
  }
}

std::string Latest(const std::vector<std::string>& versions) { return versions.empty() ? "" : versions.back(); }

std::string Listed(const std::vector<std::string>& versions) {
  std::string out;
  for (const auto& v : versions) out += (out.empty() ? "" : ", ") + v;
  return out;
}

void RunPostRestoreCommand(ProcessRunner& runner, const Config& config) {
  ProcessSpec spec;
  spec.argv = config.post_restore_command;
  spec.on_stdout_line = [](const std::string& line) { log::Info("post-restore command: " + line); };
  spec.on_stderr_line = [](const std::string& line) { log::Info("post-restore command: " + line); };
  RequireSuccess(runner.Run(spec), "the post-restore command");
}

// Polls until the target has every version of `wanted` or the deadline passes; returns those still missing.
std::vector<std::string> WaitForVersions(const ConnectionSpec& target, const Config& config,
                                         const std::vector<std::string>& wanted) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.wait_for_migrations_seconds);
  std::vector<std::string> missing = MissingMigrations(wanted, CurrentVersions(target, config));
  while (!missing.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(kPollSeconds));
    missing = MissingMigrations(wanted, CurrentVersions(target, config));
    log::Info("waiting for migrations", {{"missing", missing}});
  }
  return missing;
}

}  // namespace

std::vector<std::string> SnapshotMigrationVersions(const SnapshotReader& snapshot) {
  const std::string listed = snapshot.Meta("flyway_versions");
  if (listed.empty()) {
    const std::string latest = snapshot.Meta("flyway_version");
    return latest.empty() ? std::vector<std::string>{} : std::vector<std::string>{latest};
  }
  try {
    return nlohmann::json::parse(listed).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    throw SnapshotError("snapshot " + snapshot.path() + ": flyway_versions is not a list of versions");
  }
}

std::vector<std::string> MissingMigrations(const std::vector<std::string>& had, const std::vector<std::string>& now) {
  auto as_migrations = [](const std::vector<std::string>& versions) {
    std::vector<catalog::Migration> out;
    for (const auto& v : versions) out.push_back({v, "", "", 0});
    return out;
  };
  std::vector<std::string> missing;
  for (const auto& m : ComputeDrift(as_migrations(now), as_migrations(had)).only_on_target) missing.push_back(m.version);
  return missing;
}

PostCheckOutcome PostCheck(const SnapshotReader& snapshot, const ConnectionSpec& target, const Config& config,
                           ProcessRunner& runner, const RestoreOptions& restore_options) {
  PostCheckOutcome out;
  const std::vector<std::string> had = SnapshotMigrationVersions(snapshot);
  const std::vector<std::string> restored = CurrentVersions(target, config);
  out.snapshot_version = snapshot.Meta("flyway_version");
  out.restored_version = Latest(restored);
  out.missing_versions = MissingMigrations(had, restored);
  out.target_was_ahead = !out.missing_versions.empty();
  if (!out.target_was_ahead) {
    log::Info("post-check: the target has every migration it had before the refresh", {{"flyway_version", out.restored_version}});
    return out;
  }
  log::Warn("post-check: the target had migrations the source lacks",
            {{"missing", out.missing_versions}, {"before", out.snapshot_version}, {"after_restore", out.restored_version}});
  if (!config.post_restore_command.empty()) RunPostRestoreCommand(runner, config);
  std::vector<std::string> still = config.wait_for_migrations_seconds > 0
                                       ? WaitForVersions(target, config, out.missing_versions)
                                       : MissingMigrations(out.missing_versions, CurrentVersions(target, config));
  out.migrations_reapplied = still.empty();
  if (!out.migrations_reapplied && config.wait_for_migrations_seconds > 0) {
    throw Failure("the migrations were not re-applied within " + std::to_string(config.wait_for_migrations_seconds) +
                  " s: the target still lacks " + Listed(still) + ", which it had before the refresh");
  }
  if (!out.migrations_reapplied) {
    out.warnings.push_back("the target had migrations " + Listed(out.missing_versions) + " that the source lacks"
                           ": columns only in the snapshot await the re-applied migrations");
    log::Warn(out.warnings.back());
    return out;
  }
  log::Info("post-check: migrations re-applied; filling the re-added columns from the snapshot",
            {{"flyway_version", Latest(CurrentVersions(target, config))}});
  RestoreOptions update = restore_options;
  update.on_conflict = OnConflict::kUpdate;
  out.second_restore = RestoreUsers(snapshot, target, config, update);
  return out;
}

}  // namespace dbrefresh
