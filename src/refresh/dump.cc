// The dump step: pg_dump of the source, read-only, with throttled progress.
#include "refresh/dump.h"

#include <cstdlib>

#include "common/log.h"
#include "refresh/progress.h"

namespace dbrefresh {
namespace {

// PGOPTIONS for the child: whatever the caller set, plus read-only transactions.
std::string ReadOnlyOptions() {
  const char* existing = std::getenv("PGOPTIONS");
  std::string options = existing ? std::string(existing) + " " : "";
  return options + "-c default_transaction_read_only=on";
}

}  // namespace

void DumpSource(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& source, const Config& config,
                const std::string& out_dir) {
  // The dump is a scratch directory removed after the restore: compressing it costs most of the
  // dump's time (scripts/bench.sh measured 7.2 s against 1.8 s at scale 0.25). pg_dump_args can
  // still ask for --compress when the scratch volume is small.
  std::vector<std::string> args = {"--format=directory", "--jobs=" + std::to_string(config.jobs), "--no-owner",
                                   "--no-privileges", "--compress=0", "--verbose", "--file=" + out_dir};
  args.insert(args.end(), config.pg_dump_args.begin(), config.pg_dump_args.end());
  ProcessSpec spec = PgCommand(tools, "pg_dump", source, args);
  spec.env["PGOPTIONS"] = ReadOnlyOptions();
  ProgressMeter progress("dump", "tables", 0);
  spec.on_stderr_line = [&](const std::string& line) {
    if (line.find("dumping contents of table") != std::string::npos) progress.Advance();
  };
  RequireSuccess(runner.Run(spec), "pg_dump of the source");
  progress.Finish();
}

}  // namespace dbrefresh
