// Shared option handling for all subcommands.
#include "cli/command_line.h"

#include <iostream>

#include "common/error.h"
#include "common/log.h"

namespace dbrefresh::cli {

cxxopts::Options NewOptions(const std::string& command, const std::string& summary, bool touches_database) {
  cxxopts::Options options("dbrefresh " + command, summary);
  options.add_options()("h,help", "Show this help");
  if (touches_database) {
    options.add_options("shared")
        ("config", "JSON configuration file (SPEC section 7)", cxxopts::value<std::string>())
        ("schema", "Schema of the preserved tables (default public)", cxxopts::value<std::string>())
        ("log-format", "text or json (one JSON object per line)", cxxopts::value<std::string>()->default_value("text"))
        ("q,quiet", "Only warnings and errors")
        ("v,verbose", "Debug output as well");
  }
  return options;
}

std::optional<cxxopts::ParseResult> Parse(cxxopts::Options& options, int argc, char** argv) {
  try {
    auto result = options.parse(argc, argv);
    if (result.count("help")) {
      std::cout << options.help() << std::endl;
      return std::nullopt;
    }
    return result;
  } catch (const cxxopts::exceptions::exception& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
}

void AddSnapshotFileArgument(cxxopts::Options& options) {
  options.add_options()("file", "Snapshot file", cxxopts::value<std::string>());
  options.parse_positional({"file"});
  options.positional_help("FILE.db");
}

std::string RequireSnapshotFile(const cxxopts::ParseResult& args, const std::string& usage) {
  auto file = Given(args, "file");
  if (!file || file->empty()) throw UsageError("a snapshot file is needed: " + usage);
  return *file;
}

std::optional<std::string> Given(const cxxopts::ParseResult& args, const std::string& name) {
  if (!args.count(name)) return std::nullopt;
  return args[name].as<std::string>();
}

Config LoadSharedOptions(const cxxopts::ParseResult& args) {
  const std::string format = args["log-format"].as<std::string>();
  if (format != "text" && format != "json") throw UsageError("--log-format must be text or json (got '" + format + "')");
  log::Level level = args.count("verbose") ? log::Level::kDebug : (args.count("quiet") ? log::Level::kWarn : log::Level::kInfo);
  log::Configure(format == "json" ? log::Format::kJson : log::Format::kText, level);
  Config config;
  if (auto path = Given(args, "config")) config = LoadConfigFile(*path);
  if (auto schema = Given(args, "schema")) config.schema = *schema;
  return config;
}

}  // namespace dbrefresh::cli
