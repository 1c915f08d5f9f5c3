// Turns a snapshot (and optionally the target's current columns) into the SeedTables that
// SeedWriter prints: which columns, which casts, how children find parents, what counts as a duplicate.
#pragma once

#include <map>
#include <vector>

#include "config/config.h"
#include "mapping/column_mapping.h"
#include "seed/seed_writer.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh {

// One SeedTable per snapshot table, parents first. With `target_mappings` (by table name) the
// columns are the target's as restore-users would write them; without, the snapshot's own columns
// (generated ones left out).
std::vector<SeedTable> PlanSeedTables(const SnapshotReader& snapshot, const Config& config,
                                      const std::map<std::string, TableMapping>* target_mappings);

}  // namespace dbrefresh
