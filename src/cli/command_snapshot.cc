// `dbrefresh snapshot --target T --out FILE.db`
#include <iostream>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "snapshot/take_snapshot.h"

namespace dbrefresh::cli {

int RunSnapshot(int argc, char** argv) {
  auto options = NewOptions("snapshot", "Save the preserved tables of the target into a SQLite snapshot file", true);
  options.add_options()
      ("target", "Target connection (libpq URI or keywords; else DBREFRESH_TARGET_URL or DB_*_PREPROD)", cxxopts::value<std::string>())
      ("out", "Snapshot file to write (mode 0600)", cxxopts::value<std::string>());
  auto args = Parse(options, argc, argv);
  if (!args) return 0;
  Config config = LoadSharedOptions(*args);
  auto out = Given(*args, "out");
  if (!out || out->empty()) throw UsageError("snapshot needs --out FILE.db");
  ConnectionSpec target = RequireConnection(Side::kTarget, Given(*args, "target"), ProcessEnvironment());
  SnapshotSummary summary = TakeSnapshot(target, config, *out);
  long long total = 0;
  for (const auto& [table, rows] : summary.row_counts) total += rows;
  log::Info("snapshot written", {{"file", summary.path}, {"rows", total}, {"flyway_version", summary.flyway_version}});
  std::cout << summary.path << std::endl;
  return 0;
}

}  // namespace dbrefresh::cli
