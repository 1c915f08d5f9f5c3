// Refresh step 4: dumps the source with pg_dump (directory format, parallel, no owners or privileges).
#pragma once

#include <string>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"

namespace dbrefresh {

// Runs pg_dump --format=directory --jobs config.jobs --no-owner --no-privileges [config.pg_dump_args]
// into `out_dir` (which must not exist yet), with every transaction of its session read-only.
// Progress (tables dumped) is logged at most every few seconds.
// Failure (exit 1) with pg_dump's exit code and stderr tail when it fails.
void DumpSource(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& source, const Config& config,
                const std::string& out_dir);

}  // namespace dbrefresh
