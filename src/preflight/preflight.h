// The `preflight` step: compares source and target read-only and judges what a refresh would do.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "preflight/preflight_report.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"

namespace dbrefresh {

struct PreflightOptions {
  std::string strategy;             // schema | clean | swap; "" means config.strategy
  PgTools tools;                    // where pg_dump and pg_restore are
  ProcessRunner* runner = nullptr;  // runs `--version`; nullptr skips the client checks
};

// Opens read-only sessions on both sides (a write would fail at the server), reads each side's
// catalog in one repeatable-read transaction, checks pg_dump/pg_restore, and judges.
// Never changes either database. Throws ConnectionError (3) when a side cannot be reached;
// blocking findings are returned in the report, not thrown.
PreflightReport Preflight(const ConnectionSpec& source, const ConnectionSpec& target, const Config& config,
                          const PreflightOptions& options);

// `pg_dump --version` and `pg_restore --version`; a program that cannot be run gives a ToolCheck
// with its error instead of an exception.
std::vector<ToolCheck> CheckTools(ProcessRunner& runner, const PgTools& tools);

}  // namespace dbrefresh
