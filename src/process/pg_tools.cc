// Locating the PostgreSQL client programs and comparing their major version with the servers'.
#include "process/pg_tools.h"

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "common/error.h"
#include "common/log.h"

namespace dbrefresh {
namespace {

namespace fs = std::filesystem;

const char* kDebianPgRoot = "/usr/lib/postgresql";

bool HoldsPgDump(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "pg_dump", ec);
}

// The /usr/lib/postgresql/<major>/bin with the highest major that holds pg_dump, if any.
std::optional<std::string> NewestDebianBin() {
  std::error_code ec;
  int best = -1;
  std::string best_dir;
  for (fs::directory_iterator it(kDebianPgRoot, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    int major = std::stoi(name);
    if (major > best && HoldsPgDump(it->path() / "bin")) {
      best = major;
      best_dir = (it->path() / "bin").string();
    }
  }
  if (best < 0) return std::nullopt;
  return best_dir;
}

}  // namespace

std::string PgTools::Path(const std::string& program) const {
  return dir.empty() ? program : (fs::path(dir) / program).string();
}

PgTools FindPgTools(const std::optional<std::string>& pg_bin) {
  if (pg_bin) {
    std::error_code ec;
    if (!fs::is_directory(*pg_bin, ec)) throw UsageError("--pg-bin " + *pg_bin + ": not a directory");
    if (!HoldsPgDump(*pg_bin)) throw UsageError("--pg-bin " + *pg_bin + ": holds no pg_dump");
    return PgTools{*pg_bin};
  }
  if (auto dir = NewestDebianBin()) return PgTools{*dir};
  return PgTools{""};
}

std::optional<int> ParseToolMajor(const std::string& version_output) {
  static const std::regex kVersion(R"(\(PostgreSQL\)\s+(\d+))");
  std::smatch match;
  if (!std::regex_search(version_output, match, kVersion)) return std::nullopt;
  return std::stoi(match[1].str());
}

int ServerMajor(int server_version_num) {
  return server_version_num / 10000;
}

int ToolMajor(ProcessRunner& runner, const PgTools& tools, const std::string& program) {
  ProcessSpec spec;
  spec.argv = {tools.Path(program), "--version"};
  spec.capture_stdout = true;
  spec.quiet = true;
  ProcessResult result = runner.Run(spec);
  RequireSuccess(result, program + " --version");
  auto major = ParseToolMajor(result.stdout_text);
  if (!major) throw Failure(tools.Path(program) + " --version printed no PostgreSQL version");
  return *major;
}

std::optional<std::string> ToolTooOld(const std::string& program, int tool_major, const std::string& server_role,
                                      int server_major) {
  if (tool_major >= server_major) return std::nullopt;
  return program + " " + std::to_string(tool_major) + " is older than the " + server_role + " server (PostgreSQL " +
         std::to_string(server_major) + "): use a client of major version " + std::to_string(server_major) +
         " or newer (--pg-bin DIR)";
}

void RequireToolNotOlder(ProcessRunner& runner, const PgTools& tools, const std::string& program,
                         const std::string& server_role, int server_version_num) {
  int tool_major = ToolMajor(runner, tools, program);
  if (auto problem = ToolTooOld(program, tool_major, server_role, ServerMajor(server_version_num))) {
    throw BlockedError(*problem);
  }
  log::Debug("client version checked", {{"program", program}, {"major", tool_major}, {"server", server_role}});
}

ProcessSpec PgCommand(const PgTools& tools, const std::string& program, const ConnectionSpec& connection,
                      const std::vector<std::string>& args) {
  SplitConninfo split = SplitPassword(connection.conninfo);
  ProcessSpec spec;
  spec.argv = {tools.Path(program)};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.argv.push_back("--dbname=" + split.without_password);
  // The child inherits no PGPASSWORD (process_runner.cc): a password that libpq would have taken
  // from ours is this connection's, so it is passed on explicitly.
  const char* inherited = std::getenv("PGPASSWORD");
  spec.password = split.password ? split.password : (inherited ? std::optional<std::string>(inherited) : std::nullopt);
  return spec;
}

}  // namespace dbrefresh
