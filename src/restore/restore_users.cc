// The restore-users step: plans every table, restores them parents first in one transaction,
// and writes whatever could not go in to the seed SQL file.
#include "restore/restore_users.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "catalog/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "connect/pg_session.h"
#include "mapping/match_keys.h"
#include "mapping/table_order.h"
#include "restore/table_restore.h"
#include "seed/seed_plan.h"
#include "seed/seed_writer.h"

namespace dbrefresh {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

TableRestorePlan PlanTable(const SnapshotTable& snap, TableInfo target, const Config& config,
                           const std::vector<TableRestorePlan>& parents, int index) {
  TableRestorePlan plan;
  plan.snapshot = &snap;
  plan.index = index;
  const PreserveSpec* spec = config.FindPreserve(snap.info.name);
  plan.mapping = PlanTableMapping(snap.info, target, spec ? spec->defaults : std::map<std::string, std::string>{});
  const auto copied = plan.mapping.Names(ColumnSource::kCopy);
  std::vector<std::string> written;
  for (const ColumnPlan* c : plan.mapping.Written()) written.push_back(c->column);
  auto pk = PrimaryKeyColumns(target);
  if (!pk.empty() && std::all_of(pk.begin(), pk.end(), [&](const std::string& c) { return Contains(copied, c); })) {
    plan.pk = pk;
  }
  for (auto& key : MatchKeys(target, spec)) {
    if (std::all_of(key.begin(), key.end(), [&](const std::string& c) { return Contains(copied, c); })) {
      plan.match_keys.push_back(key);
    }
  }
  const bool compares_duplicates = ComparesDuplicates(plan.match_keys, plan.pk);
  for (const auto& c : written) {
    if (!Contains(plan.pk, c) && compares_duplicates) plan.duplicate_check.push_back(c);
    if (!Contains(plan.pk, c) && Contains(copied, c)) plan.update_columns.push_back(c);
  }
  for (const ConstraintInfo* fk : target.ForeignKeys()) {
    if (fk->columns.size() != 1 || !Contains(copied, fk->columns[0])) continue;
    for (const auto& parent : parents) {
      if (parent.target.name == fk->ref_table && parent.pk.size() == 1 && fk->ref_columns == parent.pk) {
        plan.repoints.push_back({fk->columns[0], parent.IdMap()});
      }
    }
  }
  plan.target = std::move(target);
  return plan;
}

std::vector<TableRestorePlan> PlanAll(pqxx::work& tx, const SnapshotReader& snapshot, const Config& config,
                                      const std::string& schema, const std::string& masked) {
  std::vector<TableInfo> infos;
  for (const auto& t : snapshot.tables()) infos.push_back(t.info);
  std::vector<TableRestorePlan> plans;
  plans.reserve(infos.size());
  for (const auto& name : OrderParentsFirst(infos)) {
    auto target = catalog::ReadTable(tx, schema, name);
    if (!target) {
      throw BlockedError("table " + schema + "." + name + " (in snapshot " + snapshot.path() + ") not found in " + masked +
                         "; nothing written");
    }
    plans.push_back(PlanTable(*snapshot.FindTable(name), std::move(*target), config, plans,
                              static_cast<int>(plans.size())));
  }
  return plans;
}

void LogPlan(const TableRestorePlan& plan) {
  const auto& m = plan.mapping;
  nlohmann::json fields = {{"table", m.table}, {"copied", m.Names(ColumnSource::kCopy)}, {"dropped", m.snapshot_only}};
  std::vector<std::string> defaulted;
  for (auto source : {ColumnSource::kTargetDefault, ColumnSource::kNull, ColumnSource::kConfigDefault,
                      ColumnSource::kTypeDefault, ColumnSource::kUnfillable}) {
    for (const auto& c : m.Names(source)) defaulted.push_back(c + " (" + ToString(source) + ")");
  }
  fields["defaulted"] = defaulted;
  log::Info("column mapping", fields);
  if (!m.snapshot_only.empty()) {
    log::Warn("snapshot columns missing in the target are not inserted; the snapshot keeps them for a later run",
              {{"table", m.table}, {"columns", m.snapshot_only}});
  }
}

// Writes the rows that could not go in to `<path>.partial`, renamed into place by the caller.
long long WriteSeedFile(pqxx::work& tx, const SnapshotReader& snapshot, const Config& config,
                        const std::vector<TableRestorePlan>& plans, const std::string& partial_path,
                        const std::string& masked) {
  std::map<std::string, TableMapping> mappings;
  for (const auto& p : plans) mappings[p.target.name] = p.mapping;
  auto seed_tables = PlanSeedTables(snapshot, config, &mappings);
  std::ofstream out(partial_path, std::ios::trunc);
  ::chmod(partial_path.c_str(), 0600);
  SeedWriter writer(out);
  writer.Begin({"dbrefresh " DBREFRESH_VERSION ": rows of " + snapshot.path() + " that restore-users could not insert",
                "into " + masked + "; each row's reason is the comment above it. Fix the cause, then run this file."});
  long long total = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const long long failed = CountFailedRows(tx, plans[i]);
    if (failed == 0) continue;
    const SeedTable* seed = nullptr;
    for (const auto& s : seed_tables) seed = s.table == plans[i].target.name ? &s : seed;
    writer.Table(*seed, failed);
    ForEachFailedRow(tx, snapshot, plans[i],
                     [&](const RowValues& values, const std::string& reason) { writer.Row(*seed, values, reason); });
    writer.TableDone(*seed);
    total += failed;
  }
  writer.End();
  out.close();
  if (!out) throw Failure("cannot write seed SQL " + partial_path + ": " + std::strerror(errno));
  return total;
}

}  // namespace

OnConflict ParseOnConflict(const std::string& text) {
  if (text == "skip") return OnConflict::kSkip;
  if (text == "update") return OnConflict::kUpdate;
  if (text == "fail") return OnConflict::kFail;
  throw UsageError("--on-conflict must be skip, update or fail (got '" + text + "')");
}

std::string DefaultSeedPath(const std::string& snapshot_path) {
  const std::string suffix = ".db";
  if (snapshot_path.size() > suffix.size() &&
      snapshot_path.compare(snapshot_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return snapshot_path.substr(0, snapshot_path.size() - suffix.size()) + ".seed.sql";
  }
  return snapshot_path + ".seed.sql";
}

nlohmann::json ToJson(const TableOutcome& o) {
  std::vector<std::string> defaulted;
  for (auto source : {ColumnSource::kTargetDefault, ColumnSource::kNull, ColumnSource::kConfigDefault,
                      ColumnSource::kTypeDefault, ColumnSource::kUnfillable}) {
    for (const auto& c : o.mapping.Names(source)) defaulted.push_back(c);
  }
  return {{"table", o.table}, {"inserted", o.inserted}, {"updated", o.updated}, {"matched_by_key", o.matched_by_key},
          {"already_present", o.already_present}, {"to_seed_sql", o.to_seed_sql},
          {"columns_copied", o.mapping.Names(ColumnSource::kCopy)}, {"columns_dropped", o.mapping.snapshot_only},
          {"columns_defaulted", defaulted}};
}

RestoreOutcome RestoreUsers(const SnapshotReader& snapshot, const ConnectionSpec& target, const Config& config,
                            const RestoreOptions& options) {
  PgSession session = OpenSession(target, Access::kReadWrite);
  RestoreOutcome outcome;
  outcome.dry_run = options.dry_run;
  outcome.seed_path = options.seed_out.empty() ? DefaultSeedPath(snapshot.path()) : options.seed_out;
  const std::string partial = outcome.seed_path + ".partial";
  const std::string schema = snapshot.Meta("schema").empty() ? config.schema : snapshot.Meta("schema");
  try {
    pqxx::work tx(*session.conn);
    tx.exec("SET LOCAL lock_timeout = '" + std::to_string(config.lock_timeout_seconds) + "s'");
    // The hash joins over a table's keys outgrow the default 4 MB and spill to disk: a million role
    // keys against the target took 2.2 s so, 1.4 s in memory (about 75 MB, this transaction only).
    tx.exec("SET LOCAL work_mem = '128MB'");
    // Temp tables live in the session's own buffers (8 MB by default): a million keys would go
    // through the disk. Settable only before the session's first temp table, which is just ahead.
    tx.exec("SET LOCAL temp_buffers = '256MB'");
    // Concurrent runs of restore-users on one database take turns, so none inserts what another just did.
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('dbrefresh restore-users'))");
    auto plans = PlanAll(tx, snapshot, config, schema, session.masked);
    for (const auto& plan : plans) {
      LogPlan(plan);
      TableOutcome table{plan.target.name, 0, 0, 0, 0, 0, plan.mapping};
      RestoreTable(tx, snapshot, plan, options.on_conflict, table, outcome.warnings);
      log::Info("restored table", {{"table", table.table}, {"inserted", table.inserted}, {"updated", table.updated},
                                   {"matched_by_key", table.matched_by_key}, {"already_present", table.already_present},
                                   {"to_seed_sql", table.to_seed_sql}});
      outcome.rows_to_seed += table.to_seed_sql;
      outcome.tables.push_back(std::move(table));
    }
    for (const auto& w : outcome.warnings) log::Warn(w);
    if (outcome.rows_to_seed > 0 && !options.dry_run) {
      WriteSeedFile(tx, snapshot, config, plans, partial, session.masked);
    }
    if (options.dry_run) {
      tx.abort();
      log::Info("dry run: rolled back, nothing changed", {{"database", session.masked}});
    } else {
      tx.commit();
    }
  } catch (...) {
    std::remove(partial.c_str());
    RethrowDatabaseError("restore-users into " + session.masked, *session.conn);
  }
  if (outcome.rows_to_seed > 0 && !options.dry_run && std::rename(partial.c_str(), outcome.seed_path.c_str()) != 0) {
    throw Failure("rows are committed but the seed SQL could not be moved to " + outcome.seed_path + ": " +
                  std::strerror(errno) + " (it is at " + partial + ")");
  }
  return outcome;
}

}  // namespace dbrefresh
