// Refresh step 6: pg_restore of the source's dump into the target, with progress.
#pragma once

#include <string>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"

namespace dbrefresh {

// Number of entries in the dump's table of contents (`pg_restore -l`), the restore's 100%.
long long CountTocEntries(ProcessRunner& runner, const PgTools& tools, const std::string& dump_dir);

// True for a `pg_restore --verbose` line that marks one entry done ("creating TABLE ...",
// "processing data for table ...", "executing SEQUENCE SET ..."); the same lines appear with and
// without --jobs.
bool IsRestoreItemLine(const std::string& line);

// pg_restore --jobs config.jobs --no-owner --no-privileges --exit-on-error [--clean --if-exists]
// [config.pg_restore_args] into `target`. Progress (entries done of the TOC's) is logged at most
// every few seconds. Failure (exit 1) with the exit code and stderr tail when it fails.
void RestoreDump(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& target, const Config& config,
                 const std::string& dump_dir, bool clean);

}  // namespace dbrefresh
