// Refresh step 6: pg_restore of the source's dump into the target, with progress: whole, or in
// phases so that restore-users (step 7) can run while most of the dump is still restoring.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "process/background_process.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"
#include "refresh/progress.h"
#include "refresh/restore_phases.h"
#include "refresh/table_streams.h"

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

// The first of config.pg_restore_args that chooses the items to restore itself (--use-list,
// --table, --section, ...), or "": the restore can then go by dbrefresh's own item lists.
std::string RestoreArgChoosingItems(const Config& config);

// The dump's table of contents by section (`pg_restore --list --section=...`).
TocSections ListToc(ProcessRunner& runner, const PgTools& tools, const std::string& dump_dir);

// The restore in the phases of restore_phases.h. Begin() restores the schema, starts the streams
// (`start_streams`, if given) and the rest of the dump in the background, restores the preserved
// tables and returns once they are in: restore-users can run. Finish() waits for the rest and the
// streams, then restores the items after the streams and the last ones. Abandoning it before
// Finish() stops what runs in the background. The list files go to `list_dir`.
class PhasedRestore {
 public:
  using StartStreams = std::function<std::unique_ptr<TableStreams>()>;
  PhasedRestore(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& target, const Config& config,
                std::string dump_dir, RestorePhases phases, std::string list_dir, StartStreams start_streams = {});
  ~PhasedRestore();
  PhasedRestore(const PhasedRestore&) = delete;
  PhasedRestore& operator=(const PhasedRestore&) = delete;

  void Begin();
  void Finish();

 private:
  ProcessSpec ListSpec(const std::vector<std::string>& lines, const std::string& phase, ProgressMeter& progress);
  void RunPhase(const std::vector<std::string>& lines, const std::string& phase);
  void BuildStreamedKeys();

  ProcessRunner& runner_;
  const PgTools& tools_;
  const ConnectionSpec& target_;
  const Config& config_;
  std::string dump_dir_;
  RestorePhases phases_;
  std::string list_dir_;
  StartStreams start_streams_;
  std::unique_ptr<TableStreams> streams_;
  std::unique_ptr<ProgressMeter> rest_progress_;  // advanced on the background thread until Finish
  std::unique_ptr<BackgroundProcess> rest_;
};

}  // namespace dbrefresh
