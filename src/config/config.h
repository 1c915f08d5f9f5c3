// The JSON configuration file of SPEC section 7. Every key has a default; a flag wins over the file.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace dbrefresh {

// One table whose rows survive a refresh.
struct PreserveSpec {
  std::string table;
  // Columns that identify the same person in prod and preprod. Empty: the table's unique
  // keys other than the primary key, as the target has them.
  std::vector<std::string> match_on;
  // Values for target-only NOT NULL columns without a default, by column name (PostgreSQL text).
  std::map<std::string, std::string> defaults;
};

struct Config {
  std::string schema = "public";
  std::vector<PreserveSpec> preserve = {
      {"users", {}, {}}, {"user_role_assignments", {}, {}}, {"user_qualification_assignments", {}, {}}};
  std::string migration_table = "flyway_schema_history";
  std::string strategy = "schema";              // schema | clean | swap
  int jobs = 2;                                 // pg_dump / pg_restore --jobs (the restore runs two at once)
  std::vector<std::string> pg_dump_args;
  std::vector<std::string> pg_restore_args;
  std::string on_conflict = "skip";             // skip | update | fail
  std::vector<std::string> post_restore_command;
  int wait_for_migrations_seconds = 0;
  std::string snapshot_dir = "dbrefresh-snapshots";
  int keep_snapshots = 5;
  int lock_timeout_seconds = 10;
  bool terminate_connections = false;
  int keep_before_databases = 1;                // swap: "<db>_before_<time>" databases kept, the newest included
  int stream_min_table_mb = 8;                  // tables this large stream source -> target (table_streams.h); -1: none

  const PreserveSpec* FindPreserve(const std::string& table) const;
};

// Parses config JSON. Unknown keys, wrong types and out-of-range numbers throw UsageError (exit 2)
// naming the key, e.g. "config file x.json: key 'jobs' must be an integer from 1 to 64".
Config ParseConfig(const std::string& json_text, const std::string& origin);

// Reads and parses a file; a missing or unreadable file is a usage error naming it.
Config LoadConfigFile(const std::string& path);

}  // namespace dbrefresh
