// `dbrefresh restore-users FILE.db --target T`: put a snapshot's people back, mapping columns by name.
#include <iomanip>
#include <iostream>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "restore/restore_users.h"

namespace dbrefresh::cli {
namespace {

void PrintSummary(const RestoreOutcome& outcome) {
  std::cout << (outcome.dry_run ? "dry run (rolled back): " : "") << "restore-users summary\n"
            << std::left << std::setw(34) << "table" << std::right << std::setw(10) << "inserted" << std::setw(9)
            << "updated" << std::setw(9) << "matched" << std::setw(9) << "present" << std::setw(9) << "to seed"
            << "\n";
  for (const auto& t : outcome.tables) {
    std::cout << std::left << std::setw(34) << t.table << std::right << std::setw(10) << t.inserted << std::setw(9)
              << t.updated << std::setw(9) << t.matched_by_key << std::setw(9) << t.already_present << std::setw(9)
              << t.to_seed_sql << "\n";
    auto json = ToJson(t);
    std::cout << "  columns copied: " << json["columns_copied"].size() << ", dropped: " << json["columns_dropped"].dump()
              << ", defaulted: " << json["columns_defaulted"].dump() << "\n";
  }
  if (outcome.rows_to_seed > 0) {
    std::cout << outcome.rows_to_seed << " row(s) could not be inserted"
              << (outcome.dry_run ? " (dry run: no seed file written)" : "; they are in " + outcome.seed_path) << "\n";
  }
}

}  // namespace

int RunRestoreUsers(int argc, char** argv) {
  auto options = NewOptions("restore-users", "Re-insert a snapshot's rows into the target with adaptive column mapping", true);
  options.add_options()
      ("target", "Target connection (libpq URI or keywords; else DBREFRESH_TARGET_URL or DB_*_PREPROD)", cxxopts::value<std::string>())
      ("on-conflict", "Same primary key already in the target: skip, update or fail", cxxopts::value<std::string>())
      ("dry-run", "Do everything in a transaction, print the plan and counts, roll back")
      ("seed-out", "Where rows that cannot be inserted go (default: beside the snapshot, .seed.sql)", cxxopts::value<std::string>())
      ("json", "Print the per-table counts as JSON on stdout")
;
  AddSnapshotFileArgument(options);
  auto args = Parse(options, argc, argv);
  if (!args) return 0;
  Config config = LoadSharedOptions(*args);
  const std::string file = RequireSnapshotFile(*args, "dbrefresh restore-users FILE.db --target T");
  RestoreOptions restore;
  restore.on_conflict = ParseOnConflict(Given(*args, "on-conflict").value_or(config.on_conflict));
  restore.dry_run = args->count("dry-run") > 0;
  restore.seed_out = Given(*args, "seed-out").value_or("");
  ConnectionSpec target = RequireConnection(Side::kTarget, Given(*args, "target"), ProcessEnvironment());
  SnapshotReader snapshot(file);
  RestoreOutcome outcome = RestoreUsers(snapshot, target, config, restore);
  if (args->count("json")) {
    nlohmann::json tables = nlohmann::json::array();
    for (const auto& t : outcome.tables) tables.push_back(ToJson(t));
    std::cout << nlohmann::json({{"dry_run", outcome.dry_run}, {"tables", tables}, {"rows_to_seed", outcome.rows_to_seed},
                                 {"seed_sql", outcome.rows_to_seed > 0 ? outcome.seed_path : ""}})
                     .dump(2)
              << std::endl;
  } else {
    PrintSummary(outcome);
  }
  if (outcome.rows_to_seed > 0) return ToInt(ExitCode::kRowsToSeed);
  return 0;
}

}  // namespace dbrefresh::cli
