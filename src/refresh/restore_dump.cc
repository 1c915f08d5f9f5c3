// The restore step: pg_restore with a progress meter fed by its --verbose lines.
#include "refresh/restore_dump.h"

#include <sstream>

#include "common/log.h"
#include "refresh/progress.h"

namespace dbrefresh {

long long CountTocEntries(ProcessRunner& runner, const PgTools& tools, const std::string& dump_dir) {
  ProcessSpec spec;
  spec.argv = {tools.Path("pg_restore"), "--list", dump_dir};
  long long entries = 0;
  spec.on_stdout_line = [&](const std::string& line) {
    if (!line.empty() && line[0] != ';') ++entries;
  };
  RequireSuccess(runner.Run(spec), "pg_restore --list of the dump");
  return entries;
}

bool IsRestoreItemLine(const std::string& line) {
  for (const char* marker : {"pg_restore: creating ", "pg_restore: processing data for table ", "pg_restore: executing "}) {
    if (line.rfind(marker, 0) == 0) return true;
  }
  return false;
}

void RestoreDump(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& target, const Config& config,
                 const std::string& dump_dir, bool clean) {
  ProgressMeter progress("restore", "items", CountTocEntries(runner, tools, dump_dir));
  std::vector<std::string> args = {"--jobs=" + std::to_string(config.jobs), "--no-owner", "--no-privileges",
                                   "--exit-on-error", "--verbose"};
  if (clean) {
    args.push_back("--clean");
    args.push_back("--if-exists");
  }
  args.insert(args.end(), config.pg_restore_args.begin(), config.pg_restore_args.end());
  ProcessSpec spec = PgCommand(tools, "pg_restore", target, args);
  spec.argv.push_back(dump_dir);
  spec.on_stderr_line = [&](const std::string& line) {
    if (IsRestoreItemLine(line)) progress.Advance();
  };
  RequireSuccess(runner.Run(spec), "pg_restore into the target");
  progress.Complete();
}

}  // namespace dbrefresh
