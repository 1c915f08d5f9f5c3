// The `restore-users` step: re-inserts a snapshot's rows into the target (SPEC section 4).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "mapping/column_mapping.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh {

enum class OnConflict { kSkip, kUpdate, kFail };
OnConflict ParseOnConflict(const std::string& text);  // UsageError on anything else

struct RestoreOptions {
  OnConflict on_conflict = OnConflict::kSkip;
  bool dry_run = false;        // do everything, then roll back
  std::string seed_out;        // where rows that cannot go in are written; "" = beside the snapshot
};

struct TableOutcome {
  std::string table;
  long long inserted = 0;
  long long updated = 0;
  long long matched_by_key = 0;   // same unique key, different primary key: matched to the existing row
  long long already_present = 0;  // same primary key (skip), or a duplicate child row
  long long to_seed_sql = 0;
  TableMapping mapping;
};

struct RestoreOutcome {
  std::vector<TableOutcome> tables;
  long long rows_to_seed = 0;
  std::string seed_path;          // written only when rows_to_seed > 0
  std::vector<std::string> warnings;
  bool dry_run = false;
};

// Everything in one transaction on the target; committed unless dry_run.
// Throws: ConnectionError (3); BlockedError (4) when the target lacks a snapshot table, or on a
// conflict under OnConflict::kFail (nothing written); Failure (1) otherwise.
RestoreOutcome RestoreUsers(const SnapshotReader& snapshot, const ConnectionSpec& target, const Config& config,
                            const RestoreOptions& options);

// The per-table counts as SPEC section 7 names them in the JSON report.
nlohmann::json ToJson(const TableOutcome& outcome);

// The default seed file beside the snapshot: FILE.db -> FILE.seed.sql.
std::string DefaultSeedPath(const std::string& snapshot_path);

}  // namespace dbrefresh
