// The subcommands of `dbrefresh`, one file each; each parses its own arguments and returns an exit code.
#pragma once

namespace dbrefresh::cli {

// argv[0] is the subcommand's name. Errors are thrown as dbrefresh::Error and reported by main.
int RunPreflight(int argc, char** argv);
int RunSnapshot(int argc, char** argv);
int RunInspect(int argc, char** argv);
int RunRestoreUsers(int argc, char** argv);
int RunSeedSql(int argc, char** argv);
int RunRefresh(int argc, char** argv);

}  // namespace dbrefresh::cli
