// `dbrefresh seed-sql FILE.db [--target T] [--out FILE.sql]`: an idempotent script of a snapshot's rows.
#include <iostream>
#include <map>

#include "catalog/catalog.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "common/private_file.h"
#include "connect/pg_session.h"
#include "restore/type_resolution.h"
#include "seed/seed_plan.h"
#include "seed/seed_writer.h"

namespace dbrefresh::cli {
namespace {

// The target's current columns, so the script fits the target as restore-users would write it.
std::map<std::string, TableMapping> TargetMappings(const SnapshotReader& snapshot, const ConnectionSpec& target,
                                                   const Config& config) {
  PgSession session = OpenSession(target, Access::kReadOnly);
  std::map<std::string, TableMapping> mappings;
  try {
    pqxx::read_transaction tx(*session.conn);
    for (const auto& t : snapshot.tables()) {
      auto current = catalog::ReadTable(tx, t.info.schema, t.info.name);
      if (!current) throw BlockedError("table " + t.info.schema + "." + t.info.name + " not found in " + session.masked);
      const PreserveSpec* spec = config.FindPreserve(t.info.name);
      mappings[t.info.name] = PlanTableMapping(t.info, *current, spec ? spec->defaults : std::map<std::string, std::string>{});
      RequireTypesResolve(tx, t, mappings[t.info.name], snapshot.path());
    }
  } catch (...) {
    RethrowDatabaseError("reading the columns of " + session.masked);
  }
  return mappings;
}

void WriteScript(std::ostream& out, const SnapshotReader& snapshot, const Config& config,
                 const std::map<std::string, TableMapping>* mappings) {
  SeedWriter writer(out);
  writer.Begin({"dbrefresh " DBREFRESH_VERSION " seed SQL from " + snapshot.path(),
                "snapshot taken " + snapshot.Meta("created_at") + " of " + snapshot.Meta("source_database") + " on " +
                    snapshot.Meta("source_host") + ", flyway version " + snapshot.Meta("flyway_version"),
                mappings ? "columns adapted to the target's current tables" : "columns as in the snapshot"});
  for (const SeedTable& table : PlanSeedTables(snapshot, config, mappings)) {
    const SnapshotTable* source = snapshot.FindTable(table.table);
    writer.Table(table, source->row_count);
    snapshot.ForEachRow(*source, [&](const RowValues& row) { writer.Row(table, row); });
    writer.TableDone(table);
  }
  writer.End();
}

}  // namespace

int RunSeedSql(int argc, char** argv) {
  auto options = NewOptions("seed-sql", "Write an idempotent SQL script that recreates a snapshot's rows", true);
  options.add_options()
      ("target", "Adapt the script to this database's current columns", cxxopts::value<std::string>())
      ("out", "Write the script here (mode 0600) instead of stdout", cxxopts::value<std::string>())
;
  AddSnapshotFileArgument(options);
  auto args = Parse(options, argc, argv);
  if (!args) return 0;
  Config config = LoadSharedOptions(*args);
  const std::string file = RequireSnapshotFile(*args, "dbrefresh seed-sql FILE.db [--target T] [--out FILE.sql]");
  SnapshotReader snapshot(file);
  std::map<std::string, TableMapping> mappings;
  auto target = ResolveConnection(Side::kTarget, Given(*args, "target"), ProcessEnvironment());
  if (Given(*args, "target")) mappings = TargetMappings(snapshot, *target, config);
  const auto* adapt = Given(*args, "target") ? &mappings : nullptr;
  auto out_path = Given(*args, "out");
  if (!out_path) {
    WriteScript(std::cout, snapshot, config, adapt);
    return 0;
  }
  PrivateFile out(*out_path);
  WriteScript(out.stream(), snapshot, config, adapt);
  out.Commit();
  log::Info("seed SQL written", {{"file", *out_path}});
  return 0;
}

}  // namespace dbrefresh::cli
