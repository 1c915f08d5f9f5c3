// Refresh step 5 for strategy `schema`: drop and recreate the schemas the dump holds, so that no
// target-only object can block the restore; their DDL is written to .dropped.sql first.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "config/config.h"
#include "refresh/dropped_ddl.h"

namespace dbrefresh {

// The schemas pg_dump dumps from the source: all but pg_*, information_schema and those an
// extension owns, in name order.
std::vector<std::string> DumpedSchemas(pqxx::connection& source);

// The objects of `schemas` the target has and the source lacks (catalog::ListObjects on both).
std::vector<SchemaObject> ListTargetOnlyObjects(pqxx::connection& source, pqxx::connection& target,
                                                const std::vector<std::string>& schemas);

struct ClearOutcome {
  int attempts = 0;
  int sessions_ended = 0;
  std::vector<std::string> warnings;
};

// Runs in the clearing transaction before anything is dropped (the catch-up of a live target, under
// the locks it takes). Throwing rolls the whole transaction back.
using BeforeDrop = std::function<void(pqxx::work&)>;

// In one transaction with lock_timeout = config.lock_timeout_seconds: `before_drop`, then DROP SCHEMA
// ... CASCADE for each of `schemas` the target has, CREATE SCHEMA public again (pg_dump never creates
// it) and its owner, grants and default privileges as they were. On a lock timeout the transaction
// rolls back (the target is untouched) and is retried, 3 attempts in all; with
// config.terminate_connections the other sessions on the target database are ended before each
// attempt. Failure (exit 1) naming the sessions that held the lock when every attempt timed out.
ClearOutcome DropSchemas(pqxx::connection& target, const std::string& dbname, const std::vector<std::string>& schemas,
                         const Config& config, const BeforeDrop& before_drop = {});

// Strategy clean: the same transaction and retries, dropping only the preserved `tables` of
// `schema` (CASCADE: the foreign keys and views on them, which pg_restore --clean recreates from
// the source), so that the catch-up and the end of their old contents are one commit.
ClearOutcome DropPreservedTables(pqxx::connection& target, const std::string& dbname, const std::string& schema,
                                 const std::vector<std::string>& tables, const Config& config,
                                 const BeforeDrop& before_drop);

}  // namespace dbrefresh
