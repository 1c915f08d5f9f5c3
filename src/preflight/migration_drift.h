// Migration drift as Flyway judges it: the sets of successful versions on each side, compared.
// Pure logic over catalog::Migration lists; no database here.
#pragma once

#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace dbrefresh {

struct MigrationDrift {
  std::string source_latest;  // highest successful version in Flyway order, "" without history
  std::string target_latest;
  std::vector<catalog::Migration> only_on_target;  // the refresh will undo them (Flyway order)
  std::vector<catalog::Migration> only_on_source;  // the refresh brings them (Flyway order)
  bool target_ahead() const { return !only_on_target.empty(); }
};

// Compares by version (Flyway order, so "1.0" and "1" are the same version); the service runs with
// outOfOrder, so a version below the other side's latest can still be missing there.
MigrationDrift ComputeDrift(const std::vector<catalog::Migration>& source,
                            const std::vector<catalog::Migration>& target);

}  // namespace dbrefresh
