// Preflight's judgement: compares two sides' catalog facts and classifies every finding.
// Pure logic (no database), so the rules of SPEC section 5 "What blocks" have instant tests.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "preflight/preflight_report.h"
#include "preflight/schema_facts.h"

namespace dbrefresh {

// Builds the report. Blocking: a preserved table missing on either side; a client program that
// could not be checked or is older than a server; with strategy "clean", a target-only object
// that blocks pg_restore --clean. Warnings: target-only migrations and objects (the refresh undoes
// them), preserved columns the source lacks, NOT NULL columns filled with a type default, rows that
// will go to the seed SQL. Info: everything else worth knowing.
PreflightReport AnalyzeSchemas(const SchemaFacts& source, const SchemaFacts& target, const Config& config,
                               const std::string& strategy, const std::vector<ToolCheck>& tools);

// Column differences of one table on both sides; empty vectors when the columns agree.
TableColumnDiff DiffColumns(const TableInfo& source, const TableInfo& target);

}  // namespace dbrefresh
