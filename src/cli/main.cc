// dbrefresh's entry point: the table of subcommands, and the one place errors become exit codes.
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "common/error.h"
#include "common/log.h"
#include "process/process_runner.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"preflight", dbrefresh::cli::RunPreflight, "Compare source and target read-only: drift, target-only objects, mapping"},
    {"snapshot", dbrefresh::cli::RunSnapshot, "Save the preserved tables of the target into a SQLite snapshot file"},
    {"inspect", dbrefresh::cli::RunInspect, "Show what a snapshot file holds"},
    {"restore-users", dbrefresh::cli::RunRestoreUsers, "Re-insert a snapshot's rows into the target, mapping columns by name"},
    {"seed-sql", dbrefresh::cli::RunSeedSql, "Write an idempotent SQL script that recreates a snapshot's rows"},
    {"refresh", dbrefresh::cli::RunRefresh, "The whole job: guard, preflight, snapshot, dump, clear, restore, restore-users"},
};

void PrintUsage(std::ostream& out) {
  out << "dbrefresh " << DBREFRESH_VERSION
      << " - refresh a pre-production PostgreSQL database from production, keeping its people\n\n"
      << "Usage: dbrefresh <command> [options]   (dbrefresh <command> --help for its options)\n\nCommands:\n";
  for (const auto& c : kCommands) out << "  " << c.name << std::string(16 - std::string(c.name).size(), ' ') << c.summary << "\n";
  out << "\nExit codes: 0 ok, 1 failure, 2 usage/config, 3 connection, 4 blocked (nothing changed),\n"
         "            5 rows sent to seed SQL, 6 snapshot file missing/corrupt/unknown\n";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string first = argc > 1 ? argv[1] : "";
  if (first == "--version" || first == "-V") {
    std::cout << "dbrefresh " << DBREFRESH_VERSION << std::endl;
    return 0;
  }
  if (first.empty() || first == "--help" || first == "-h" || first == "help") {
    PrintUsage(std::cout);
    return first.empty() ? dbrefresh::ToInt(dbrefresh::ExitCode::kUsage) : 0;
  }
  for (const auto& command : kCommands) {
    if (first != command.name) continue;
    try {
      // For the whole run, not only while a child program runs: as PID 1 of a container,
      // dbrefresh would otherwise not even notice SIGTERM.
      dbrefresh::HandleInterrupts();
      return command.run(argc - 1, argv + 1);
    } catch (const dbrefresh::Error& e) {
      std::string message = e.what();  // one line, whatever the cause carried
      for (char& c : message) c = (c == '\n' || c == '\r') ? ' ' : c;
      dbrefresh::log::Error(message);
      return dbrefresh::ToInt(e.code());
    } catch (const std::exception& e) {
      dbrefresh::log::Error(std::string("unexpected: ") + e.what());
      return dbrefresh::ToInt(dbrefresh::ExitCode::kFailure);
    }
  }
  std::cerr << "error: unknown command '" << first << "' (see dbrefresh --help)" << std::endl;
  return dbrefresh::ToInt(dbrefresh::ExitCode::kUsage);
}
