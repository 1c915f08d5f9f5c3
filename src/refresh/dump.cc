// The dump step: pg_dump of the source, read-only, in the background, with throttled progress.
#include "refresh/dump.h"

#include <cstdlib>

#include "common/log.h"

namespace dbrefresh {
namespace {

// PGOPTIONS for the child: whatever the caller set, plus read-only transactions.
std::string ReadOnlyOptions() {
  const char* existing = std::getenv("PGOPTIONS");
  std::string options = existing ? std::string(existing) + " " : "";
  return options + "-c default_transaction_read_only=on";
}

ProcessSpec DumpSpec(const PgTools& tools, const ConnectionSpec& source, const Config& config,
                     const std::string& out_dir, const DumpShare& share, ProgressMeter& progress) {
  // The dump is a scratch directory removed after the restore: compressing it costs most of the
  // dump's time (scripts/bench.sh measured 7.2 s against 1.8 s at scale 0.25). pg_dump_args can
  // still ask for --compress when the scratch volume is small.
  // --lock-wait-timeout: a migration holding a lock on prod makes pg_dump fail, not wait for ever.
  // --no-sync: every run dumps afresh (a killed run's next run does not read its dump), so waiting
  // for the dump to reach the disk would only delay the restore (fsync costs time in proportion to
  // what was written on a cloud volume).
  std::vector<std::string> args = {"--format=directory", "--jobs=" + std::to_string(config.jobs), "--no-owner",
                                   "--no-privileges", "--compress=0", "--no-sync", "--verbose", "--file=" + out_dir,
                                   "--lock-wait-timeout=" + std::to_string(config.lock_timeout_seconds * 1000)};
  if (!share.snapshot_id.empty()) args.push_back("--snapshot=" + share.snapshot_id);
  for (const auto& pattern : share.exclude_table_data) args.push_back("--exclude-table-data=" + pattern);
  args.insert(args.end(), config.pg_dump_args.begin(), config.pg_dump_args.end());
  ProcessSpec spec = PgCommand(tools, "pg_dump", source, args);
  spec.env["PGOPTIONS"] = ReadOnlyOptions();
  spec.on_stderr_line = [&progress](const std::string& line) {
    if (line.find("dumping contents of table") != std::string::npos) progress.Advance();
  };
  return spec;
}

}  // namespace

SourceDump::SourceDump(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& source,
                       const Config& config, const std::string& out_dir, const DumpShare& share)
    : progress_("dump", "tables", 0), process_(runner, DumpSpec(tools, source, config, out_dir, share, progress_)) {}

void SourceDump::Wait() {
  RequireSuccess(process_.Wait(), "pg_dump of the source");
  progress_.Finish();
}

}  // namespace dbrefresh
