// The restore-users step: plans every table, restores them parents first in one transaction,
// and writes whatever could not go in to the seed SQL file.
#include "restore/restore_users.h"

#include <algorithm>
#include <memory>
#include <ostream>

#include "catalog/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "common/private_file.h"
#include "connect/pg_session.h"
#include "mapping/match_keys.h"
#include "mapping/table_order.h"
#include "restore/table_restore.h"
#include "restore/type_resolution.h"
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
    RequireTypesResolve(tx, *plans.back().snapshot, plans.back().mapping, snapshot.path());
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

// Writes the rows that could not go in to `out` (a PrivateFile the caller renames into place).
long long WriteSeedFile(pqxx::work& tx, const SnapshotReader& snapshot, const Config& config,
                        const std::vector<TableRestorePlan>& plans, std::ostream& out, const std::string& masked) {
  std::map<std::string, TableMapping> mappings;
  for (const auto& p : plans) mappings[p.target.name] = p.mapping;
  auto seed_tables = PlanSeedTables(snapshot, config, &mappings);
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

namespace {

// How many times a run that waited lock_timeout_seconds for a lock starts again before it gives up.
constexpr int kLockAttempts = 3;

// What a SQLSTATE that stops restore-users means, for the error line ("" when nothing plainer).
std::string CauseOf(const std::string& state) {
  if (state == "55P03") return "a lock wait timed out (lock_timeout_seconds): another session holds a lock on it";
  if (state == "57014") return "a statement timed out or was cancelled";
  if (state == "40P01") return "a deadlock with another session";
  if (state == "40001") return "a serialization failure";
  if (state == "53100") return "the server's disk is full";
  if (state == "53200") return "the server is out of memory";
  if (state.rfind("53", 0) == 0) return "the server ran out of resources";
  if (state.rfind("57P", 0) == 0) return "the server is shutting down";
  return "";
}

// A database error that stopped the run: one line naming the table and the cause, never the
// DETAIL (it carries row values), plus the resume hint. Connection losses stay exit 3.
[[noreturn]] void ThrowStopped(const pqxx::sql_error& e, const std::string& table, const std::string& masked,
                               const pqxx::connection_base& conn) {
  const std::string where = "restore-users into " + masked + (table.empty() ? "" : ", table " + table);
  const std::string cause = CauseOf(e.sqlstate());
  if (!conn.is_open() || e.sqlstate().rfind("08", 0) == 0 || e.sqlstate().rfind("57P", 0) == 0) {
    try {
      throw;
    } catch (...) {
      RethrowDatabaseError(where + (cause.empty() ? "" : ": " + cause) + "; rolled back, nothing written", conn);
    }
  }
  const std::string text = e.what();
  std::string first = text.substr(0, text.find('\n'));
  while (!first.empty() && first.back() == ' ') first.pop_back();
  throw Failure(where + ": " + (cause.empty() ? "" : cause + ": ") + first + " [SQLSTATE " + e.sqlstate() +
                "]; rolled back, nothing written; run restore-users again once that is resolved");
}

// Thrown by RestoreOnce when a lock wait timed out, so that RestoreUsers can start again.
struct LockTimedOut {
  std::string table;
};

RestoreOutcome RestoreOnce(PgSession& session, const SnapshotReader& snapshot, const Config& config,
                           const RestoreOptions& options, int attempt) {
  RestoreOutcome outcome;
  outcome.dry_run = options.dry_run;
  outcome.seed_path = options.seed_out.empty() ? DefaultSeedPath(snapshot.path()) : options.seed_out;
  const std::string schema = snapshot.Meta("schema").empty() ? config.schema : snapshot.Meta("schema");
  std::string at_table;
  std::unique_ptr<PrivateFile> seed_file;
  try {
    pqxx::work tx(*session.conn);
    tx.exec("SET LOCAL lock_timeout = '" + std::to_string(config.lock_timeout_seconds) + "s'");
    // The hash joins over a table's keys outgrow the default 4 MB and spill to disk: a million role
    // keys against the target took 2.2 s so, 1.4 s in memory (about 75 MB, this transaction only).
    tx.exec("SET LOCAL work_mem = '128MB'");
    // Temp tables live in the session's own buffers (8 MB by default): a million keys would go
    // through the disk. Settable only before the session's first temp table, which is just ahead
    // (a second attempt keeps the first one's size: temp_buffers cannot change after that).
    if (attempt == 1) tx.exec("SET LOCAL temp_buffers = '256MB'");
    // Concurrent runs of restore-users on one database take turns, so none inserts what another just did.
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('dbrefresh restore-users'))");
    auto plans = PlanAll(tx, snapshot, config, schema, session.masked);
    for (const auto& plan : plans) {
      at_table = plan.target.name;
      LogPlan(plan);
      TableOutcome table{plan.target.name, 0, 0, 0, 0, 0, plan.mapping};
      RestoreTable(tx, snapshot, plan, options.on_conflict, table, outcome.warnings);
      log::Info("restored table", {{"table", table.table}, {"inserted", table.inserted}, {"updated", table.updated},
                                   {"matched_by_key", table.matched_by_key}, {"already_present", table.already_present},
                                   {"to_seed_sql", table.to_seed_sql}});
      outcome.rows_to_seed += table.to_seed_sql;
      outcome.tables.push_back(std::move(table));
    }
    at_table.clear();
    for (const auto& w : outcome.warnings) log::Warn(w);
    if (outcome.rows_to_seed > 0 && !options.dry_run) {
      seed_file = std::make_unique<PrivateFile>(outcome.seed_path);
      WriteSeedFile(tx, snapshot, config, plans, seed_file->stream(), session.masked);
    }
    if (options.dry_run) {
      tx.abort();
      log::Info("dry run: rolled back, nothing changed", {{"database", session.masked}});
    } else {
      tx.commit();
    }
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "55P03" && session.conn->is_open()) throw LockTimedOut{at_table};
    ThrowStopped(e, at_table, session.masked, *session.conn);
  } catch (...) {
    RethrowDatabaseError("restore-users into " + session.masked + (at_table.empty() ? "" : ", table " + at_table),
                         *session.conn);
  }
  if (seed_file) {
    try {
      seed_file->Commit();
    } catch (const Error& e) {
      throw Failure(std::string("rows are committed but the seed SQL could not be written: ") + e.what());
    }
  }
  return outcome;
}

}  // namespace

RestoreOutcome RestoreUsers(const SnapshotReader& snapshot, const ConnectionSpec& target, const Config& config,
                            const RestoreOptions& options) {
  PgSession session = OpenSession(target, Access::kReadWrite);
  for (int attempt = 1;; ++attempt) {
    try {
      return RestoreOnce(session, snapshot, config, options, attempt);
    } catch (const LockTimedOut& stopped) {
      const std::string table = stopped.table.empty() ? "" : ", table " + stopped.table;
      if (attempt >= kLockAttempts) {
        throw Failure("restore-users into " + session.masked + table + ": " + CauseOf("55P03") + " (waited " +
                      std::to_string(config.lock_timeout_seconds) + " s, " + std::to_string(kLockAttempts) +
                      " times); rolled back, nothing written; run restore-users again once the lock is released");
      }
      log::Warn("restore-users waited too long for a lock; rolled back, starting again",
                {{"table", stopped.table}, {"lock_timeout_seconds", config.lock_timeout_seconds},
                 {"attempt", attempt}, {"of", kLockAttempts}});
    }
  }
}

}  // namespace dbrefresh
