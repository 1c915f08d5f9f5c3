// Refresh step 4: dumps the source with pg_dump (directory format, parallel, no owners or privileges).
//
// The dump reads the source while the snapshot (step 3) reads the target: the two steps use
// different servers, so the refresh starts pg_dump when the snapshot starts and waits for it after.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "process/background_process.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"
#include "refresh/progress.h"

namespace dbrefresh {

// What the dump shares with the streams of table_streams.h: the source's exported snapshot
// (pg_dump --snapshot) and the tables whose data they carry instead (--exclude-table-data).
struct DumpShare {
  std::string snapshot_id;                      // empty: pg_dump takes its own
  std::vector<std::string> exclude_table_data;  // pg_dump patterns
};

// pg_dump --format=directory --jobs config.jobs --no-owner --no-privileges [config.pg_dump_args]
// into `out_dir` (which must not exist yet), with every transaction of its session read-only,
// running in the background from construction. Progress (tables dumped) is logged at most every
// few seconds.
class SourceDump {
 public:
  SourceDump(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& source, const Config& config,
             const std::string& out_dir, const DumpShare& share = {});
  // A dump abandoned before Wait (the snapshot failed) is stopped.
  ~SourceDump() = default;
  SourceDump(const SourceDump&) = delete;
  SourceDump& operator=(const SourceDump&) = delete;

  // Waits for pg_dump to end. Failure (exit 1) with pg_dump's exit code and stderr tail when it
  // failed. Once only.
  void Wait();

 private:
  ProgressMeter progress_;     // fed from the background thread; declared first, so it outlives process_
  BackgroundProcess process_;
};

}  // namespace dbrefresh
