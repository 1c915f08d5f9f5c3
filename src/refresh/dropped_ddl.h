// The .dropped.sql file: the DDL of every target-only object, written before strategy `schema`
// drops it, so nothing is lost without a trace.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "catalog/catalog.h"
#include "connect/connection_spec.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"

namespace dbrefresh {

struct SchemaObject {
  std::string schema;
  catalog::CatalogObject object;
};

// Writes to `path` (mode 0600) the DDL of `objects` as the target has them now: types (CREATE TYPE /
// CREATE DOMAIN from the catalog), relations (pg_dump --schema-only -t, with their indexes,
// constraints and triggers), functions (pg_get_functiondef). Data is not included. An empty list
// still writes a file that says so. Failure (exit 1) when pg_dump fails or the file cannot be written.
void WriteDroppedDdl(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& target, pqxx::connection& conn,
                     const std::vector<SchemaObject>& objects, const std::string& path, int lock_timeout_seconds);

}  // namespace dbrefresh
