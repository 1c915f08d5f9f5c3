// Applying the last catch-up to the swap's new database (see swap_catch_up.h).
#include "refresh/swap_catch_up.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "catalog/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "common/sql_text.h"
#include "connect/pg_session.h"
#include "mapping/table_order.h"

namespace dbrefresh {
namespace {

std::string KeyCondition(const std::vector<std::string>& key, size_t first_parameter) {
  std::string where;
  for (size_t i = 0; i < key.size(); ++i) {
    where += (i ? " AND " : "") + sql::QuoteIdent(key[i]) + " = $" + std::to_string(first_parameter + i);
  }
  return where;
}

// Parameters are sent untyped: the server reads each as the type of the column it meets.
pqxx::result ExecWith(pqxx::transaction_base& tx, const std::string& statement, const RowValues& values) {
  return tx.exec_params(statement, pqxx::prepare::make_dynamic_params(values));
}

bool HasKey(pqxx::transaction_base& tx, const std::string& table, const std::vector<std::string>& key,
            const RowValues& values) {
  return !ExecWith(tx, "SELECT 1 FROM " + table + " WHERE " + KeyCondition(key, 1), values).empty();
}

// The copied columns of an update: in the snapshot and the new database, neither generated nor
// identity ALWAYS (which only takes DEFAULT), nor part of the key.
std::vector<size_t> UpdatedColumns(const TableInfo& from_snapshot, const TableInfo& fresh, const std::vector<std::string>& key) {
  std::vector<size_t> out;
  for (size_t i = 0; i < from_snapshot.columns.size(); ++i) {
    const ColumnInfo& c = from_snapshot.columns[i];
    const ColumnInfo* there = fresh.FindColumn(c.name);
    if (!there || there->is_generated() || there->identity == "a") continue;
    if (std::find(key.begin(), key.end(), c.name) != key.end()) continue;
    out.push_back(i);
  }
  return out;
}

void UpdateRow(pqxx::work& tx, const std::string& table, const std::vector<std::string>& key,
               const std::vector<size_t>& columns, const TableInfo& info, const ChangedRow& change) {
  if (columns.empty()) return;
  std::string sets;
  RowValues values;
  for (size_t i = 0; i < columns.size(); ++i) {
    sets += (i ? ", " : "") + sql::QuoteIdent(info.columns[columns[i]].name) + " = $" + std::to_string(i + 1);
    values.push_back((*change.row)[columns[i]]);
  }
  values.insert(values.end(), change.key.begin(), change.key.end());
  ExecWith(tx, "UPDATE " + table + " SET " + sets + " WHERE " + KeyCondition(key, columns.size() + 1), values);
}

void DeleteRow(pqxx::work& tx, const std::string& table, const std::vector<std::string>& key, const RowValues& values) {
  ExecWith(tx, "DELETE FROM " + table + " WHERE " + KeyCondition(key, 1), values);
}

// The rows `fresh` lacks, and the snapshot's rows of their parents among the preserved tables
// (restore-users needs a parent to re-point its children to the row prod has for that person).
size_t ColumnIndex(const TableInfo& table, const std::string& column) {
  size_t at = 0;
  while (at < table.columns.size() && table.columns[at].name != column) ++at;
  return at;
}

std::map<std::string, std::vector<RowValues>> DeltaRows(const std::map<std::string, std::vector<RowValues>>& lacking,
                                                        const SnapshotReader& snapshot) {
  std::map<std::string, std::vector<RowValues>> rows = lacking;
  for (const auto& child : snapshot.tables()) {
    auto it = lacking.find(child.info.name);
    if (it == lacking.end()) continue;
    for (const ConstraintInfo* fk : child.info.ForeignKeys()) {
      const SnapshotTable* parent = snapshot.FindTable(fk->ref_table);
      if (!parent || fk->columns.size() != 1 || parent == &child) continue;
      const size_t at = ColumnIndex(child.info, fk->columns[0]);
      const size_t ref = ColumnIndex(parent->info, fk->ref_columns[0]);
      if (at == child.info.columns.size() || ref == parent->info.columns.size()) continue;
      std::set<std::string> present;  // the parent rows the delta holds already (lacking ones too)
      for (const auto& row : rows[parent->info.name]) {
        if (row[ref]) present.insert(*row[ref]);
      }
      for (const auto& row : it->second) {
        if (!row[at] || !present.insert(*row[at]).second) continue;
        if (auto found = snapshot.FindRow(*parent, fk->ref_columns[0], *row[at])) rows[parent->info.name].push_back(*found);
      }
    }
  }
  return rows;
}

void WriteDeltaSnapshot(const std::string& path, const SnapshotReader& snapshot,
                        std::map<std::string, std::vector<RowValues>>& rows) {
  SnapshotWriter writer(path);
  for (const auto& [key, value] : snapshot.meta()) {
    if (key != "format_version") writer.SetMeta(key, value);
  }
  for (const auto& table : snapshot.tables()) {
    writer.BeginTable(table.info);
    for (auto& row : rows[table.info.name]) writer.AddRow(row);
  }
  writer.Commit();
}

}  // namespace

SwapCatchUpOutcome ApplyCatchUpToFresh(const std::vector<TableChanges>& changes, const SnapshotReader& snapshot,
                                       pqxx::connection& source, const ConnectionSpec& fresh, const Config& config,
                                       const RestoreOptions& options, const std::string& delta_path) {
  SwapCatchUpOutcome out;
  if (changes.empty()) return out;
  const std::string schema = snapshot.Meta("schema").empty() ? config.schema : snapshot.Meta("schema");
  std::vector<TableInfo> infos;
  for (const auto& t : snapshot.tables()) infos.push_back(t.info);
  const std::vector<std::string> parents_first = OrderParentsFirst(infos);
  std::map<std::string, const TableChanges*> by_table;
  for (const auto& c : changes) by_table[c.table] = &c;

  PgSession session = OpenSession(fresh, Access::kReadWrite);
  std::map<std::string, std::vector<RowValues>> lacking;
  try {
    pqxx::read_transaction prod(source);
    pqxx::work tx(*session.conn);
    tx.exec("SET LOCAL row_security = off");
    // Deletes children first, updates parents first: no foreign key between them is broken on the way.
    for (auto it = parents_first.rbegin(); it != parents_first.rend(); ++it) {
      auto changed = by_table.find(*it);
      if (changed == by_table.end()) continue;
      const TableChanges& c = *changed->second;
      const std::string table = sql::QualifiedName(schema, c.table);
      for (const auto& change : c.rows) {
        if (change.row || !HasKey(tx, table, c.key, change.key) || HasKey(prod, table, c.key, change.key)) continue;
        DeleteRow(tx, table, c.key, change.key);
        ++out.deleted;
      }
    }
    for (const auto& name : parents_first) {
      auto changed = by_table.find(name);
      if (changed == by_table.end()) continue;
      const TableChanges& c = *changed->second;
      const std::string table = sql::QualifiedName(schema, c.table);
      const SnapshotTable* in_snapshot = snapshot.FindTable(c.table);
      auto fresh_info = catalog::ReadTable(tx, schema, c.table);
      if (!in_snapshot || !fresh_info) continue;
      const std::vector<size_t> columns = UpdatedColumns(in_snapshot->info, *fresh_info, c.key);
      for (const auto& change : c.rows) {
        if (!change.row) continue;
        if (!HasKey(tx, table, c.key, change.key)) {
          lacking[c.table].push_back(*change.row);
        } else if (options.on_conflict == OnConflict::kUpdate || !HasKey(prod, table, c.key, change.key)) {
          UpdateRow(tx, table, c.key, columns, in_snapshot->info, change);
          ++out.updated;
        }
      }
    }
    tx.commit();
  } catch (const Error&) {
    throw;
  } catch (...) {
    RethrowDatabaseError("applying the catch-up to the new database " + session.dbname);
  }
  if (lacking.empty()) return out;
  auto rows = DeltaRows(lacking, snapshot);
  WriteDeltaSnapshot(delta_path, snapshot, rows);
  try {
    SnapshotReader delta(delta_path);
    out.inserted = RestoreUsers(delta, fresh, config, options);
  } catch (...) {
    std::remove(delta_path.c_str());
    throw;
  }
  std::remove(delta_path.c_str());
  return out;
}

}  // namespace dbrefresh
