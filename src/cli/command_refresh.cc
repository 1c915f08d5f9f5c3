// `dbrefresh refresh --source S --target T --confirm-target NAME`: the whole job (SPEC section 5).
#include <iostream>
#include <set>
#include <string>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "common/error.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"
#include "refresh/refresh.h"
#include "refresh/strategy.h"

namespace dbrefresh::cli {
namespace {

void AddRefreshOptions(cxxopts::Options& options) {
  options.add_options()
      ("source", "Source connection (else DBREFRESH_SOURCE_URL or DB_HOST/DB_NAME/DB_USER/DB_PASS)", cxxopts::value<std::string>())
      ("target", "Target connection (else DBREFRESH_TARGET_URL or DB_*_PREPROD)", cxxopts::value<std::string>())
      ("confirm-target", "The target database's name: required, the refresh overwrites it", cxxopts::value<std::string>())
      ("force", "Go on despite blocking preflight findings (never overrides the guard)")
      ("strategy", "schema (default), clean or swap", cxxopts::value<std::string>())
      ("jobs", "pg_dump / pg_restore --jobs (default 2; two pg_restore run at once)", cxxopts::value<std::string>())
      ("snapshot-dir", "Directory of the run's files (default ./dbrefresh-snapshots)", cxxopts::value<std::string>())
      ("keep-snapshots", "Keep the files of this many runs, the current included (default 5)", cxxopts::value<std::string>())
      ("report", "Also write the JSON report to this file", cxxopts::value<std::string>())
      ("on-conflict", "restore-users policy for rows prod has too: skip (default), update or fail", cxxopts::value<std::string>())
      ("post-restore-command", "Command run after the restore when the target was on newer migrations; repeat the "
       "flag (or separate with commas) for each argument, e.g. --post-restore-command kubectl,rollout,restart,deployment/api",
       cxxopts::value<std::vector<std::string>>())
      ("wait-for-migrations", "Seconds to wait for the migrations to be re-applied (default 0)", cxxopts::value<std::string>())
      ("lock-timeout", "Seconds to wait for locks on the target before retrying (default 10)", cxxopts::value<std::string>())
      ("terminate-connections", "End the other sessions on the target database before clearing it")
      ("keep-before-databases", "swap: keep this many <db>_before_<time> databases, the new one included (default 1)",
       cxxopts::value<std::string>())
      ("pg-bin", "Directory of pg_dump and pg_restore (default: newest /usr/lib/postgresql/*/bin, else PATH)",
       cxxopts::value<std::string>())
      ("use-snapshot", "Resume a failed run: use this earlier snapshot instead of taking one (a killed run is "
       "resumed without it: its mark on the target names its snapshot)", cxxopts::value<std::string>());
}

// Numeric options arrive as text and are checked here: cxxopts' own message for a bad number
// ("Argument '1e3' failed to parse") does not say which option it was.
int IntOption(const cxxopts::ParseResult& args, const std::string& name, int fallback, int min, int max) {
  if (!args.count(name)) return fallback;
  const std::string text = args[name].as<std::string>();
  long long value = 0;
  size_t used = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < min || value > max) {
    throw UsageError("--" + name + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                     " (got '" + text + "')");
  }
  return static_cast<int>(value);
}

// Flags win over the config file.
void ApplyFlags(const cxxopts::ParseResult& args, Config& config) {
  if (auto strategy = Given(args, "strategy")) config.strategy = ToString(ParseStrategy(*strategy));
  if (auto dir = Given(args, "snapshot-dir")) config.snapshot_dir = *dir;
  if (auto policy = Given(args, "on-conflict")) config.on_conflict = *policy;
  if (args.count("post-restore-command")) config.post_restore_command = args["post-restore-command"].as<std::vector<std::string>>();
  if (args.count("terminate-connections")) config.terminate_connections = true;
  config.jobs = IntOption(args, "jobs", config.jobs, 1, 64);
  config.keep_snapshots = IntOption(args, "keep-snapshots", config.keep_snapshots, 1, 10000);
  config.wait_for_migrations_seconds = IntOption(args, "wait-for-migrations", config.wait_for_migrations_seconds, 0, 86400);
  config.lock_timeout_seconds = IntOption(args, "lock-timeout", config.lock_timeout_seconds, 1, 3600);
  config.keep_before_databases = IntOption(args, "keep-before-databases", config.keep_before_databases, 1, 1000);
}

std::vector<std::string> SharedArgs(const cxxopts::ParseResult& args) {
  std::vector<std::string> out;
  for (const char* name : {"config", "schema"}) {
    if (auto value = Given(args, name)) {
      out.push_back(std::string("--") + name);
      out.push_back(*value);
    }
  }
  return out;
}

// The options as given, as "--name=value" (or "--flag"), for the command that resumes a failed run.
// The connections are left out: they may hold a password, and the hint names the environment instead.
std::vector<std::string> RefreshArgs(const cxxopts::ParseResult& args) {
  static const std::set<std::string> kLeftOut = {"source", "target", "confirm-target", "strategy", "use-snapshot", "help"};
  static const std::set<std::string> kFlags = {"force", "terminate-connections", "quiet", "verbose"};
  std::vector<std::string> out;
  for (const auto& given : args.arguments()) {
    if (kLeftOut.count(given.key())) continue;
    out.push_back("--" + given.key() + (kFlags.count(given.key()) ? "" : "=" + given.value()));
  }
  return out;
}

}  // namespace

int RunRefresh(int argc, char** argv) {
  auto options = NewOptions("refresh", "The whole job: guard, preflight, snapshot, dump, clear, restore, restore-users, "
                                       "post-check, report", true);
  AddRefreshOptions(options);
  auto args = Parse(options, argc, argv);
  if (!args) return 0;
  RefreshOptions refresh;
  refresh.config = LoadSharedOptions(*args);
  ApplyFlags(*args, refresh.config);
  const Environment env = ProcessEnvironment();
  refresh.source = RequireConnection(Side::kSource, Given(*args, "source"), env);
  refresh.target = RequireConnection(Side::kTarget, Given(*args, "target"), env);
  refresh.confirm_target = Given(*args, "confirm-target").value_or("");
  refresh.force = args->count("force") > 0;
  refresh.on_conflict = ParseOnConflict(refresh.config.on_conflict);
  refresh.report_path = Given(*args, "report").value_or("");
  refresh.use_snapshot = Given(*args, "use-snapshot").value_or("");
  refresh.tools = FindPgTools(Given(*args, "pg-bin"));
  refresh.shared_args = SharedArgs(*args);
  refresh.refresh_args = RefreshArgs(*args);
  PosixProcessRunner runner;
  return Refresh(refresh, runner);
}

}  // namespace dbrefresh::cli
