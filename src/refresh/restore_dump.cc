// The restore step: pg_restore with a progress meter fed by its --verbose lines, whole or in phases.
#include "refresh/restore_dump.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "common/error.h"
#include "common/log.h"
#include "connect/pg_session.h"
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

namespace {

// pg_restore's options for every restore; `extra` goes before the configured pg_restore_args.
ProcessSpec RestoreSpec(const PgTools& tools, const ConnectionSpec& target, const Config& config,
                        const std::vector<std::string>& extra, const std::string& dump_dir, ProgressMeter& progress) {
  std::vector<std::string> args = {"--jobs=" + std::to_string(config.jobs), "--no-owner", "--no-privileges",
                                   "--exit-on-error", "--verbose"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), config.pg_restore_args.begin(), config.pg_restore_args.end());
  ProcessSpec spec = PgCommand(tools, "pg_restore", target, args);
  spec.argv.push_back(dump_dir);
  spec.on_stderr_line = [&progress](const std::string& line) {
    if (IsRestoreItemLine(line)) progress.Advance();
  };
  return spec;
}

std::string ListSection(ProcessRunner& runner, const PgTools& tools, const std::string& dump_dir,
                        const std::string& section) {
  ProcessSpec spec;
  spec.argv = {tools.Path("pg_restore"), "--list", "--section=" + section, dump_dir};
  spec.capture_stdout = true;
  spec.quiet = true;
  ProcessResult result = runner.Run(spec);
  RequireSuccess(result, "pg_restore --list of the dump");
  return result.stdout_text;
}

}  // namespace

void RestoreDump(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& target, const Config& config,
                 const std::string& dump_dir, bool clean) {
  ProgressMeter progress("restore", "items", CountTocEntries(runner, tools, dump_dir));
  std::vector<std::string> extra;
  if (clean) extra = {"--clean", "--if-exists"};
  RequireSuccess(runner.Run(RestoreSpec(tools, target, config, extra, dump_dir, progress)), "pg_restore into the target");
  progress.Complete();
}

std::string RestoreArgChoosingItems(const Config& config) {
  for (const auto& arg : config.pg_restore_args) {
    for (const char* chooses : {"-L", "--use-list", "--section", "-t", "--table", "-n", "--schema", "-N",
                                "--exclude-schema", "-I", "--index", "-T", "--trigger", "-P", "--function",
                                "-a", "--data-only", "-s", "--schema-only", "-1", "--single-transaction"}) {
      const std::string option = chooses;
      if (arg.compare(0, option.size(), option) == 0) return arg;
    }
  }
  return "";
}

TocSections ListToc(ProcessRunner& runner, const PgTools& tools, const std::string& dump_dir) {
  return {ParseTocList(ListSection(runner, tools, dump_dir, "pre-data")),
          ParseTocList(ListSection(runner, tools, dump_dir, "data")),
          ParseTocList(ListSection(runner, tools, dump_dir, "post-data"))};
}

PhasedRestore::PhasedRestore(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& target,
                             const Config& config, std::string dump_dir, RestorePhases phases, std::string list_dir,
                             StartStreams start_streams)
    : runner_(runner), tools_(tools), target_(target), config_(config), dump_dir_(std::move(dump_dir)),
      phases_(std::move(phases)), list_dir_(std::move(list_dir)), start_streams_(std::move(start_streams)) {}

// The restore in the background, if still running, is stopped before the progress meter it feeds goes.
PhasedRestore::~PhasedRestore() {
  streams_.reset();
  rest_.reset();
}

ProcessSpec PhasedRestore::ListSpec(const std::vector<std::string>& lines, const std::string& phase,
                                    ProgressMeter& progress) {
  const std::string list = list_dir_ + "/restore-" + phase + ".list";
  std::ofstream out(list, std::ios::trunc);
  for (const auto& line : lines) out << line << '\n';
  out.close();
  if (!out) throw Failure("cannot write " + list + ": " + std::strerror(errno));
  return RestoreSpec(tools_, target_, config_, {"--use-list=" + list}, dump_dir_, progress);
}

void PhasedRestore::RunPhase(const std::vector<std::string>& lines, const std::string& phase) {
  if (lines.empty()) return;
  ProgressMeter progress("restore " + phase, "items", static_cast<long long>(lines.size()));
  RequireSuccess(runner_.Run(ListSpec(lines, phase, progress)), "pg_restore (" + phase + ") into the target");
  progress.Complete();
}

void PhasedRestore::Begin() {
  log::Info("restore: the preserved tables first, the rest of the dump alongside, and restore-users once the "
            "preserved tables are in",
            {{"schema", phases_.schema.size()}, {"preserved", phases_.preserved.size()},
             {"rest", phases_.rest.size()}, {"after_streams", phases_.after_streams.size()},
             {"last", phases_.last.size()}});
  RunPhase(phases_.schema, "schema");
  if (start_streams_) streams_ = start_streams_();  // the largest tables: first, they take longest
  if (!phases_.rest.empty()) {
    rest_progress_ = std::make_unique<ProgressMeter>("restore rest", "items", static_cast<long long>(phases_.rest.size()));
    rest_ = std::make_unique<BackgroundProcess>(runner_, ListSpec(phases_.rest, "rest", *rest_progress_));
  }
  RunPhase(phases_.preserved, "preserved");
}

// The streamed tables' other indexes restore in the background while this thread builds their keys'
// indexes, then the keys on them (restore_phases.h, StreamedKey).
void PhasedRestore::BuildStreamedKeys() {
  if (phases_.streamed_keys.empty()) {
    RunPhase(phases_.stream_indexes, "stream-indexes");
    return;
  }
  std::unique_ptr<ProgressMeter> progress;
  std::unique_ptr<BackgroundProcess> indexes;
  if (!phases_.stream_indexes.empty()) {
    progress = std::make_unique<ProgressMeter>("restore stream-indexes", "items",
                                               static_cast<long long>(phases_.stream_indexes.size()));
    indexes = std::make_unique<BackgroundProcess>(runner_, ListSpec(phases_.stream_indexes, "stream-indexes", *progress));
  }
  PgSession session = OpenSession(target_, Access::kReadWrite);
  for (const auto& key : phases_.streamed_keys) {
    try {
      pqxx::nontransaction tx(*session.conn);  // each statement commits: no lock is held to the next
      tx.exec(key.create_index);
      tx.exec(key.add_constraint);
    } catch (...) {
      RethrowDatabaseError("restoring a streamed table's key (" + key.add_constraint + ")", *session.conn);
    }
  }
  log::Info("restore: built the streamed tables' keys alongside their other indexes",
            {{"keys", phases_.streamed_keys.size()}});
  if (indexes) {
    ProcessResult result = indexes->Wait();
    indexes.reset();
    RequireSuccess(result, "pg_restore (stream-indexes) into the target");
    progress->Complete();
  }
}

void PhasedRestore::Finish() {
  if (rest_) {
    ProcessResult result = rest_->Wait();
    rest_.reset();
    RequireSuccess(result, "pg_restore (rest) into the target");
    rest_progress_->Complete();
  }
  if (streams_) {
    streams_->Wait();
    streams_.reset();
  }
  BuildStreamedKeys();
  RunPhase(phases_.after_streams, "after-streams");
  RunPhase(phases_.last, "last");
}

}  // namespace dbrefresh
