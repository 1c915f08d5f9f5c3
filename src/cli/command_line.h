// What every subcommand shares: its option parser, the shared options, and config loading.
#pragma once

#include <optional>
#include <string>

#include <cxxopts.hpp>

#include "config/config.h"
#include "connect/connection_spec.h"

namespace dbrefresh::cli {

// A parser for `dbrefresh <command>` with --help and, when `touches_database`, the shared options
// --config, --schema, --log-format, --quiet, --verbose.
cxxopts::Options NewOptions(const std::string& command, const std::string& summary, bool touches_database);

// Parses argv (argv[0] is the command name); a parse error throws UsageError naming the option.
// Returns nullopt after printing help when --help was given.
std::optional<cxxopts::ParseResult> Parse(cxxopts::Options& options, int argc, char** argv);

// Applies --log-format/--quiet/--verbose, loads --config, and lets --schema win over the file.
Config LoadSharedOptions(const cxxopts::ParseResult& args);

// Declares the positional FILE.db argument of inspect, restore-users and seed-sql.
void AddSnapshotFileArgument(cxxopts::Options& options);
// The FILE.db given, or a usage error showing `usage`.
std::string RequireSnapshotFile(const cxxopts::ParseResult& args, const std::string& usage);

// The value of a string option when it was given.
std::optional<std::string> Given(const cxxopts::ParseResult& args, const std::string& name);

}  // namespace dbrefresh::cli
