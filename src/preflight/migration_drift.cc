// Set difference of successful Flyway versions, in Flyway order (see migration_drift.h).
#include "preflight/migration_drift.h"

#include <algorithm>

#include "catalog/flyway_version.h"

namespace dbrefresh {
namespace {

bool HasVersion(const std::vector<catalog::Migration>& migrations, const std::string& version) {
  return std::any_of(migrations.begin(), migrations.end(),
                     [&](const catalog::Migration& m) { return CompareFlywayVersions(m.version, version) == 0; });
}

std::vector<catalog::Migration> Missing(const std::vector<catalog::Migration>& from,
                                        const std::vector<catalog::Migration>& in) {
  std::vector<catalog::Migration> out;
  for (const auto& m : from) {
    if (!HasVersion(in, m.version) && !HasVersion(out, m.version)) out.push_back(m);
  }
  std::stable_sort(out.begin(), out.end(), [](const catalog::Migration& a, const catalog::Migration& b) {
    return CompareFlywayVersions(a.version, b.version) < 0;
  });
  return out;
}

std::string Latest(const std::vector<catalog::Migration>& migrations) {
  std::string latest;
  for (const auto& m : migrations) {
    if (latest.empty() || CompareFlywayVersions(m.version, latest) > 0) latest = m.version;
  }
  return latest;
}

}  // namespace

MigrationDrift ComputeDrift(const std::vector<catalog::Migration>& source,
                            const std::vector<catalog::Migration>& target) {
  MigrationDrift drift;
  drift.source_latest = Latest(source);
  drift.target_latest = Latest(target);
  drift.only_on_target = Missing(target, source);
  drift.only_on_source = Missing(source, target);
  return drift;
}

}  // namespace dbrefresh
