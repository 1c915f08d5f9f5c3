// `dbrefresh inspect FILE.db [--json]`: what a snapshot holds, never a password (it holds none).
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "common/error.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh::cli {
namespace {

nlohmann::json Describe(const SnapshotReader& snapshot) {
  nlohmann::json out = {{"file", snapshot.path()}, {"meta", snapshot.meta()}, {"tables", nlohmann::json::array()}};
  for (const auto& t : snapshot.tables()) {
    nlohmann::json columns = nlohmann::json::array();
    for (const auto& c : t.info.columns) {
      columns.push_back({{"name", c.name}, {"type", c.type}, {"not_null", c.not_null},
                         {"default", c.default_expr ? nlohmann::json(*c.default_expr) : nlohmann::json()},
                         {"identity", c.identity}, {"generated", c.is_generated()}});
    }
    nlohmann::json constraints = nlohmann::json::array();
    for (const auto& c : t.info.constraints) constraints.push_back({{"name", c.name}, {"definition", c.definition}});
    out["tables"].push_back({{"table", t.info.name}, {"rows", t.row_count}, {"sqlite_table", t.rows_table},
                             {"columns", columns}, {"constraints", constraints}});
  }
  return out;
}

void PrintText(const SnapshotReader& snapshot) {
  std::cout << "snapshot:       " << snapshot.path() << "\n"
            << "created (UTC):  " << snapshot.Meta("created_at") << " by dbrefresh " << snapshot.Meta("dbrefresh_version") << "\n"
            << "from:           " << snapshot.Meta("source_user") << "@" << snapshot.Meta("source_host") << ":"
            << snapshot.Meta("source_port") << "/" << snapshot.Meta("source_database") << " (PostgreSQL "
            << snapshot.Meta("server_version") << ")\n"
            << "schema:         " << snapshot.Meta("schema") << "\n"
            << "flyway version: " << (snapshot.Meta("flyway_version").empty() ? "(no history)" : snapshot.Meta("flyway_version"))
            << "  " << snapshot.Meta("flyway_script") << "\n\n";
  for (const auto& t : snapshot.tables()) {
    std::cout << t.info.name << ": " << t.row_count << " rows (sqlite table " << t.rows_table << ")\n";
    for (const auto& c : t.info.columns) {
      std::cout << "  " << std::left << std::setw(40) << c.name << " " << c.type << (c.not_null ? " not null" : "")
                << (c.default_expr ? " default " + *c.default_expr : "") << (c.is_identity() ? " identity" : "")
                << (c.is_generated() ? " generated" : "") << "\n";
    }
  }
}

}  // namespace

int RunInspect(int argc, char** argv) {
  auto options = NewOptions("inspect", "Show what a snapshot file holds: when, from where, tables, columns, row counts", false);
  options.add_options()("json", "Machine-readable output");
  AddSnapshotFileArgument(options);
  auto args = Parse(options, argc, argv);
  if (!args) return 0;
  const std::string file = RequireSnapshotFile(*args, "dbrefresh inspect FILE.db [--json]");
  SnapshotReader snapshot(file);
  if (args->count("json")) {
    std::cout << Describe(snapshot).dump(2) << std::endl;
  } else {
    PrintText(snapshot);
  }
  return 0;
}

}  // namespace dbrefresh::cli
