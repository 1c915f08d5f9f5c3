// Finding pg_dump / pg_restore and checking that they are not older than the servers they serve.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "connect/connection_spec.h"
#include "process/process_runner.h"

namespace dbrefresh {

// Where the PostgreSQL client programs are. An empty dir means "by name, through PATH".
struct PgTools {
  std::string dir;
  std::string Path(const std::string& program) const;  // dir/program, or program
};

// --pg-bin DIR when given (it must be a directory holding pg_dump, else UsageError, exit 2);
// else the newest /usr/lib/postgresql/<major>/bin that holds pg_dump; else PATH.
PgTools FindPgTools(const std::optional<std::string>& pg_bin);

// The major version in `pg_dump --version` output: "pg_dump (PostgreSQL) 15.18 (Debian ...)" -> 15,
// "9.6.24" -> 9. Returns nullopt when the text holds no version.
std::optional<int> ParseToolMajor(const std::string& version_output);

// The major version of a server from libpq's number (150018 -> 15, 90624 -> 9).
int ServerMajor(int server_version_num);

// Runs `<program> --version`. Throws Failure when it cannot be run or prints no version.
int ToolMajor(ProcessRunner& runner, const PgTools& tools, const std::string& program);

// A reason to refuse when a tool is older than a server ("pg_dump 14 is older than the source
// server (PostgreSQL 15): ..."), or nullopt when the tool is recent enough.
std::optional<std::string> ToolTooOld(const std::string& program, int tool_major, const std::string& server_role,
                                      int server_major);

// Checks `program` against a server and throws BlockedError (exit 4) with ToolTooOld's reason.
void RequireToolNotOlder(ProcessRunner& runner, const PgTools& tools, const std::string& program,
                         const std::string& server_role, int server_version_num);

// A ProcessSpec for a PostgreSQL client program that connects to `connection`: the conninfo
// without its password as --dbname=..., the password (the conninfo's, else our PGPASSWORD) in
// PGPASSWORD. UsageError when the conninfo holds another secret (sslpassword, ...), which could
// only go on the command line. `args` come before
// --dbname. UsageError when the conninfo cannot be parsed.
ProcessSpec PgCommand(const PgTools& tools, const std::string& program, const ConnectionSpec& connection,
                      const std::vector<std::string>& args);

}  // namespace dbrefresh
