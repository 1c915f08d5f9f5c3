// Dropping and recreating the dumped schemas on the target, with lock timeout and retries.
#include "refresh/clear_target.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "catalog/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "common/sql_text.h"
#include "connect/pg_session.h"
#include "refresh/schema_privileges.h"
#include "refresh/target_sessions.h"

namespace dbrefresh {
namespace {

constexpr int kAttempts = 3;

const char* kDumpedSchemasQuery = R"SQL(
SELECT n.nspname FROM pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
                  AND d.deptype = 'e')
ORDER BY 1)SQL";

bool IsLockTimeout(const pqxx::sql_error& e) { return e.sqlstate() == "55P03" || e.sqlstate() == "40P01"; }

std::vector<std::string> ExistingSchemas(pqxx::transaction_base& tx, const std::vector<std::string>& schemas) {
  std::vector<std::string> out;
  for (const auto& s : schemas) {
    if (!tx.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", s).empty()) out.push_back(s);
  }
  return out;
}

using DropBody = std::function<std::vector<std::string>(pqxx::work&)>;

// One attempt: everything in one transaction, so a lock timeout leaves the target as it was.
std::vector<std::string> DropOnce(pqxx::connection& conn, int lock_timeout, const BeforeDrop& before_drop,
                                  const DropBody& drop) {
  pqxx::work tx(conn);
  tx.exec("SET LOCAL lock_timeout = '" + std::to_string(lock_timeout) + "s'");
  if (before_drop) before_drop(tx);
  std::vector<std::string> warnings = drop(tx);
  tx.commit();
  return warnings;
}

std::vector<std::string> DropSchemasIn(pqxx::work& tx, const std::vector<std::string>& schemas) {
  std::vector<std::string> existing = ExistingSchemas(tx, schemas);
  SchemaPrivileges public_privileges = ReadSchemaPrivileges(tx, "public");
  for (const auto& s : existing) {
    tx.exec("DROP SCHEMA " + sql::QuoteIdent(s) + " CASCADE");
    log::Info("dropped schema", {{"schema", s}});
  }
  std::vector<std::string> warnings;
  if (std::find(schemas.begin(), schemas.end(), "public") != schemas.end()) {
    tx.exec("CREATE SCHEMA IF NOT EXISTS public");
    if (!public_privileges.owner.empty()) warnings = ApplySchemaPrivileges(tx, public_privileges);
  }
  return warnings;
}

// Retries `drop` on lock timeouts (see DropSchemas); `lock_schemas` names whose lock holders to log.
ClearOutcome DropWithRetries(pqxx::connection& target, const std::string& dbname, const std::vector<std::string>& lock_schemas,
                             const Config& config, const BeforeDrop& before_drop, const DropBody& drop,
                             const std::string& what) {
  ClearOutcome outcome;
  for (outcome.attempts = 1;; ++outcome.attempts) {
    if (config.terminate_connections) outcome.sessions_ended += TerminateOtherSessions(target, dbname);
    try {
      outcome.warnings = DropOnce(target, config.lock_timeout_seconds, before_drop, drop);
      return outcome;
    } catch (const Error&) {
      throw;
    } catch (const pqxx::sql_error& e) {
      if (!IsLockTimeout(e)) RethrowDatabaseError(what + " of the target " + dbname);
      log::Warn("could not lock the target's objects within the lock timeout; nothing was changed",
                {{"attempt", outcome.attempts}, {"of", kAttempts}, {"lock_timeout_seconds", config.lock_timeout_seconds}});
      LogLockHolders(target, dbname, lock_schemas);
      if (outcome.attempts >= kAttempts) break;
    } catch (...) {
      RethrowDatabaseError(what + " of the target " + dbname);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  throw Failure("could not lock the objects of the target database " + dbname + " within " +
                std::to_string(config.lock_timeout_seconds) + " s (" + std::to_string(kAttempts) +
                " attempts): other sessions hold locks (listed above). Stop them, or re-run with "
                "--terminate-connections to end every other session on the target database");
}

}  // namespace

std::vector<std::string> DumpedSchemas(pqxx::connection& source) {
  std::vector<std::string> schemas;
  try {
    pqxx::read_transaction tx(source);
    for (const auto& row : tx.exec(kDumpedSchemasQuery)) schemas.push_back(row[0].as<std::string>());
  } catch (...) {
    RethrowDatabaseError("listing the source's schemas");
  }
  return schemas;
}

std::vector<SchemaObject> ListTargetOnlyObjects(pqxx::connection& source, pqxx::connection& target,
                                                const std::vector<std::string>& schemas) {
  std::vector<SchemaObject> out;
  try {
    pqxx::read_transaction source_tx(source);
    pqxx::read_transaction target_tx(target);
    for (const auto& schema : schemas) {
      auto on_source = catalog::ListObjects(source_tx, schema);
      std::set<catalog::CatalogObject> known(on_source.begin(), on_source.end());
      for (const auto& object : catalog::ListObjects(target_tx, schema)) {
        if (!known.count(object)) out.push_back({schema, object});
      }
    }
  } catch (...) {
    RethrowDatabaseError("comparing the objects of source and target");
  }
  return out;
}

ClearOutcome DropSchemas(pqxx::connection& target, const std::string& dbname, const std::vector<std::string>& schemas,
                         const Config& config, const BeforeDrop& before_drop) {
  return DropWithRetries(target, dbname, schemas, config, before_drop,
                         [&](pqxx::work& tx) { return DropSchemasIn(tx, schemas); }, "dropping the schemas");
}

ClearOutcome DropPreservedTables(pqxx::connection& target, const std::string& dbname, const std::string& schema,
                                 const std::vector<std::string>& tables, const Config& config,
                                 const BeforeDrop& before_drop) {
  return DropWithRetries(target, dbname, {schema}, config, before_drop, [&](pqxx::work& tx) {
    for (const auto& table : tables) {
      tx.exec("DROP TABLE IF EXISTS " + sql::QualifiedName(schema, table) + " CASCADE");
      log::Info("dropped preserved table (strategy clean)", {{"table", schema + "." + table}});
    }
    return std::vector<std::string>{};
  }, "dropping the preserved tables");
}

}  // namespace dbrefresh
