// `dbrefresh snapshot --target T --out FILE.db`
#include <sys/stat.h>

#include <iostream>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "connect/pg_session.h"
#include "refresh/run_mark.h"
#include "snapshot/take_snapshot.h"

namespace dbrefresh::cli {

namespace {

// A marked target is half-refreshed by a killed run: a snapshot of it would hold prod's people,
// not preprod's, and a later restore from it would lose them.
void RefuseAMarkedTarget(PgSession& session, bool force) {
  auto mark = ReadRunMark(*session.conn);
  if (!mark) return;
  const std::string what = "the target " + session.dbname + " is marked as being refreshed by run " + mark->run_id +
                           " (killed, or still running), whose snapshot " + mark->snapshot_file +
                           " holds its people";
  if (!force) {
    throw BlockedError(what + ": a snapshot of it now could miss them. Resume that run with the same dbrefresh refresh "
                       "command (it finds its snapshot by the mark), or pass --force to snapshot anyway");
  }
  log::Warn(what + "; --force: taking a snapshot anyway");
}

}  // namespace

int RunSnapshot(int argc, char** argv) {
  auto options = NewOptions("snapshot", "Save the preserved tables of the target into a SQLite snapshot file", true);
  options.add_options()
      ("target", "Target connection (libpq URI or keywords; else DBREFRESH_TARGET_URL or DB_*_PREPROD)", cxxopts::value<std::string>())
      ("out", "Snapshot file to write (mode 0600); an existing file is never replaced without --force", cxxopts::value<std::string>())
      ("force", "Replace an existing --out file; snapshot a target marked by a killed refresh");
  auto args = Parse(options, argc, argv);
  if (!args) return 0;
  Config config = LoadSharedOptions(*args);
  auto out = Given(*args, "out");
  if (!out || out->empty()) throw UsageError("snapshot needs --out FILE.db");
  // An existing file may be the only copy of last week's people: replacing it takes a decision.
  struct stat existing {};
  if (::lstat(out->c_str(), &existing) == 0 && !args->count("force")) {
    throw UsageError("--out " + *out + " already exists: refusing to replace it (give --force to replace it)");
  }
  ConnectionSpec target = RequireConnection(Side::kTarget, Given(*args, "target"), ProcessEnvironment());
  PgSession session = OpenSession(target, Access::kReadOnly);
  RefuseAMarkedTarget(session, args->count("force") > 0);
  SnapshotSummary summary = TakeSnapshot(session, target, config, *out);
  long long total = 0;
  for (const auto& [table, rows] : summary.row_counts) total += rows;
  log::Info("snapshot written", {{"file", summary.path}, {"rows", total}, {"flyway_version", summary.flyway_version}});
  std::cout << summary.path << std::endl;
  return 0;
}

}  // namespace dbrefresh::cli
