// `dbrefresh preflight --source S --target T [--json]`: read-only comparison; exit 4 when blocking.
#include <iostream>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "common/error.h"
#include "preflight/preflight.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"
#include "refresh/strategy.h"

namespace dbrefresh::cli {

int RunPreflight(int argc, char** argv) {
  auto options = NewOptions("preflight", "Compare source and target read-only: migration drift, target-only objects, "
                                         "column differences and the mapping restore-users would apply", true);
  options.add_options()
      ("source", "Source connection (else DBREFRESH_SOURCE_URL or DB_HOST/DB_NAME/...)", cxxopts::value<std::string>())
      ("target", "Target connection (else DBREFRESH_TARGET_URL or DB_*_PREPROD)", cxxopts::value<std::string>())
      ("strategy", "Judge for this refresh strategy: schema, clean or swap (default: config, else schema)", cxxopts::value<std::string>())
      ("pg-bin", "Directory of pg_dump and pg_restore (default: newest /usr/lib/postgresql/*/bin, else PATH)", cxxopts::value<std::string>())
      ("json", "Machine-readable output (shape documented in the README)");
  auto args = Parse(options, argc, argv);
  if (!args) return 0;
  Config config = LoadSharedOptions(*args);
  if (auto strategy = Given(*args, "strategy")) config.strategy = ToString(ParseStrategy(*strategy));
  const Environment env = ProcessEnvironment();
  ConnectionSpec source = RequireConnection(Side::kSource, Given(*args, "source"), env);
  ConnectionSpec target = RequireConnection(Side::kTarget, Given(*args, "target"), env);
  PosixProcessRunner runner;
  PreflightOptions preflight{config.strategy, FindPgTools(Given(*args, "pg-bin")), &runner};
  PreflightReport report = Preflight(source, target, config, preflight);
  if (args->count("json")) {
    std::cout << ToJson(report).dump(2) << std::endl;
  } else {
    PrintReport(report, std::cout);
  }
  return ToInt(report.blocking() ? ExitCode::kBlocked : ExitCode::kOk);
}

}  // namespace dbrefresh::cli
