// Subcommands whose implementation has not landed yet: they parse their options and say so (exit 1).
#include <iostream>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "common/error.h"

namespace dbrefresh::cli {
namespace {

int NotYet(const std::string& name, const std::string& summary, int argc, char** argv) {
  auto options = NewOptions(name, summary, true);
  options.add_options()("source", "Source connection", cxxopts::value<std::string>())
      ("target", "Target connection", cxxopts::value<std::string>());
  options.allow_unrecognised_options();
  if (!Parse(options, argc, argv)) return 0;
  throw Failure(name + " is not implemented yet");
}

}  // namespace

int RunPreflight(int argc, char** argv) {
  return NotYet("preflight", "Compare source and target read-only", argc, argv);
}
int RunRefresh(int argc, char** argv) { return NotYet("refresh", "The whole job", argc, argv); }

}  // namespace dbrefresh::cli
