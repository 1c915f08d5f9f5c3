// Planning seed SQL from a snapshot (see seed_plan.h).
#include "seed/seed_plan.h"

#include <algorithm>

#include "mapping/match_keys.h"
#include "mapping/table_order.h"

namespace dbrefresh {
namespace {

int IndexOf(const TableInfo& table, const std::string& column) {
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (table.columns[i].name == column) return static_cast<int>(i);
  }
  return -1;
}

std::vector<SeedColumn> ColumnsFromSnapshot(const TableInfo& info, bool& overriding) {
  std::vector<SeedColumn> columns;
  for (size_t i = 0; i < info.columns.size(); ++i) {
    const ColumnInfo& c = info.columns[i];
    if (c.is_generated()) continue;
    if (c.identity == "a") overriding = true;
    columns.push_back({c.name, c.type, static_cast<int>(i), std::nullopt});
  }
  return columns;
}

std::vector<SeedColumn> ColumnsFromMapping(const TableMapping& mapping) {
  std::vector<SeedColumn> columns;
  for (const ColumnPlan* c : mapping.Written()) columns.push_back({c->column, c->type, c->snapshot_index, c->literal});
  return columns;
}

// The type a parent's match value is cast to: with the target's mappings the target's own type of
// that column (catalog text, never the snapshot's); without, the snapshot's, which the reader
// accepted only as a strict type name. "" when the target lacks the column.
std::string MatchType(const SnapshotTable& parent, size_t index,
                      const std::map<std::string, TableMapping>* target_mappings) {
  const ColumnInfo& column = parent.info.columns[index];
  if (!target_mappings) return column.type;
  auto mapping = target_mappings->find(parent.info.name);
  if (mapping == target_mappings->end()) return "";
  for (const auto& c : mapping->second.columns) {
    if (c.column == column.name) return c.type;
  }
  return "";
}

// A child's single-column FK to a preserved parent that has a match key becomes a parent lookup.
std::vector<ParentLookup> ParentLookups(const SnapshotReader& snapshot, const Config& config, const TableInfo& child,
                                        const std::map<std::string, TableMapping>* target_mappings) {
  std::vector<ParentLookup> lookups;
  for (const ConstraintInfo* fk : child.ForeignKeys()) {
    const SnapshotTable* parent = snapshot.FindTable(fk->ref_table);
    if (!parent || fk->columns.size() != 1 || fk->ref_columns.size() != 1 || parent->info.name == child.name) continue;
    auto keys = MatchKeys(parent->info, config.FindPreserve(parent->info.name));
    if (keys.empty()) continue;
    const std::vector<std::string> match = keys.front();
    std::vector<int> indexes;
    std::vector<std::string> types;
    for (const auto& column : match) {
      int index = IndexOf(parent->info, column);
      if (index < 0) break;
      const std::string type = MatchType(*parent, static_cast<size_t>(index), target_mappings);
      if (type.empty()) break;
      indexes.push_back(index);
      types.push_back(type);
    }
    if (indexes.size() != match.size()) continue;
    const std::string ref_column = fk->ref_columns[0];
    lookups.push_back({fk->columns[0], parent->info.name, ref_column, match,
                       [&snapshot, parent, ref_column, indexes](const std::string& value)
                           -> std::optional<std::vector<std::optional<std::string>>> {
                         auto row = snapshot.FindRow(*parent, ref_column, value);
                         if (!row) return std::nullopt;
                         std::vector<std::optional<std::string>> out;
                         for (int i : indexes) out.push_back((*row)[static_cast<size_t>(i)]);
                         return out;
                       },
                       types});
  }
  return lookups;
}

}  // namespace

std::vector<SeedTable> PlanSeedTables(const SnapshotReader& snapshot, const Config& config,
                                      const std::map<std::string, TableMapping>* target_mappings) {
  std::vector<TableInfo> infos;
  for (const auto& t : snapshot.tables()) infos.push_back(t.info);
  std::vector<SeedTable> plans;
  for (const auto& name : OrderParentsFirst(infos)) {
    const TableInfo& info = snapshot.FindTable(name)->info;
    SeedTable seed{info.schema, name, {}, false, {}, ParentLookups(snapshot, config, info, target_mappings), {}};
    auto mapping = target_mappings ? target_mappings->find(name) : std::map<std::string, TableMapping>::const_iterator();
    if (target_mappings && mapping != target_mappings->end()) {
      seed.columns = ColumnsFromMapping(mapping->second);
      seed.overriding_system_value = mapping->second.overriding_system_value;
    } else {
      seed.columns = ColumnsFromSnapshot(info, seed.overriding_system_value);
    }
    for (const auto& c : seed.columns) {
      const ColumnInfo* column = info.FindColumn(c.name);
      const bool serial = column && column->default_expr && column->default_expr->rfind("nextval(", 0) == 0;
      if (column && (column->is_identity() || serial)) seed.sequence_columns.push_back(c.name);
    }
    const auto pk = PrimaryKeyColumns(info);
    if (ComparesDuplicates(MatchKeys(info, config.FindPreserve(name)), pk)) {
      for (const auto& c : seed.columns) {
        if (std::find(pk.begin(), pk.end(), c.name) == pk.end()) seed.duplicate_check.push_back(c.name);
      }
    }
    plans.push_back(std::move(seed));
  }
  return plans;
}

}  // namespace dbrefresh
