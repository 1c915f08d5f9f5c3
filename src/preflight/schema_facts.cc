// Reading one side's catalog facts for preflight.
#include "preflight/schema_facts.h"

#include "process/pg_tools.h"

namespace dbrefresh {
namespace {

using ReadOnlySnapshot = pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only>;

}  // namespace

SchemaFacts ReadSchemaFacts(PgSession& session, const Config& config) {
  SchemaFacts facts;
  try {
    ReadOnlySnapshot tx(*session.conn);
    facts.summary.connection = session.masked;
    facts.summary.database = session.dbname;
    facts.summary.server_version = tx.exec("SELECT current_setting('server_version')")[0][0].as<std::string>();
    facts.summary.server_major = ServerMajor(session.conn->server_version());
    facts.migrations = catalog::ReadMigrations(tx, config.schema, config.migration_table);
    facts.summary.migrations = facts.migrations.size();
    facts.summary.flyway_latest = facts.migrations.empty() ? "" : facts.migrations.back().version;
    facts.objects = catalog::ListObjects(tx, config.schema);
    facts.dependencies = catalog::ListDependencies(tx, config.schema);
    for (const auto& object : facts.objects) {
      if (object.kind != "table") continue;
      if (auto table = catalog::ReadTable(tx, config.schema, object.name)) facts.tables[object.name] = std::move(*table);
    }
    tx.commit();
  } catch (...) {
    RethrowDatabaseError("reading the catalog of " + session.masked);
  }
  return facts;
}

}  // namespace dbrefresh
