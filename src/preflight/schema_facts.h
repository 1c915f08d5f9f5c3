// The catalog facts of one side that preflight compares, read in one read-only transaction.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "config/config.h"
#include "connect/pg_session.h"
#include "preflight/preflight_report.h"

namespace dbrefresh {

struct SchemaFacts {
  SideSummary summary;
  std::vector<catalog::Migration> migrations;
  std::vector<catalog::CatalogObject> objects;
  std::vector<catalog::Dependency> dependencies;
  std::map<std::string, TableInfo> tables;  // every table of config.schema, by name
};

// Reads config.schema of the session's database (repeatable read, read-only).
// Throws ConnectionError (3) or Failure (1) naming the side.
SchemaFacts ReadSchemaFacts(PgSession& session, const Config& config);

}  // namespace dbrefresh
