// Splitting the dump's items into the restore's phases (see restore_phases.h).
#include "refresh/restore_phases.h"

#include <cctype>
#include <sstream>

#include "common/error.h"

namespace dbrefresh {
namespace {

// The catalogs whose objects tell their table; anything else in post-data goes last.
const char* const kItemTablesQuery = R"SQL(
WITH item(catalog, oid) AS (SELECT * FROM unnest($1::oid[], $2::oid[]))
SELECT i.catalog, i.oid, t.tbl, t.ref FROM item i CROSS JOIN LATERAL (
  SELECT conrelid, confrelid FROM pg_constraint WHERE i.catalog = 'pg_constraint'::regclass AND oid = i.oid
  UNION ALL
  SELECT coalesce(x.indrelid, c.oid), 0 FROM pg_class c LEFT JOIN pg_index x ON x.indexrelid = c.oid
  WHERE i.catalog = 'pg_class'::regclass AND c.oid = i.oid
  UNION ALL
  SELECT tgrelid, tgconstrrelid FROM pg_trigger WHERE i.catalog = 'pg_trigger'::regclass AND oid = i.oid
  UNION ALL
  SELECT ev_class, 0 FROM pg_rewrite WHERE i.catalog = 'pg_rewrite'::regclass AND oid = i.oid
  UNION ALL
  SELECT polrelid, 0 FROM pg_policy WHERE i.catalog = 'pg_policy'::regclass AND oid = i.oid
  UNION ALL
  SELECT stxrelid, 0 FROM pg_statistic_ext WHERE i.catalog = 'pg_statistic_ext'::regclass AND oid = i.oid
) t(tbl, ref))SQL";

const char* const kKnownCatalogsQuery = R"SQL(
SELECT unnest(ARRAY['pg_constraint', 'pg_class', 'pg_trigger', 'pg_rewrite', 'pg_policy',
                    'pg_statistic_ext']::regclass[])::oid)SQL";

// Edges of the preserved set: a table in it brings its FK parents, partitions and inheritance relatives.
const char* const kRelativesQuery = R"SQL(
SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f'
UNION SELECT inhrelid, inhparent FROM pg_inherits
UNION SELECT inhparent, inhrelid FROM pg_inherits)SQL";

// Triggers and rules a preserved table has of its own (not those behind its foreign keys).
const char* const kOwnTriggersQuery = R"SQL(
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND t.tgrelid = ANY($1::oid[])
UNION ALL
SELECT c.relname, r.rulename FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
WHERE r.rulename <> '_RETURN' AND r.ev_class = ANY($1::oid[])
LIMIT 1)SQL";

// The streamed tables and their ancestors (partitioned tables, inheritance parents): a trigger made on
// a partitioned table is cloned onto its partitions, and a key from one is added to them, so made while
// a partition streams it would fire on (or check) the streamed rows.
const char* const kWithAncestorsQuery = R"SQL(
WITH RECURSIVE up(oid) AS (
  SELECT unnest($1::oid[])
  UNION SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid)
SELECT oid FROM up)SQL";

// The partitioned tables that an item (a foreign key, a constraint trigger) refers to.
const char* const kPartitionedQuery =
    "SELECT oid, oid::regclass::text FROM pg_class WHERE relkind = 'p' AND oid = ANY($1::oid[])";

std::string OidArray(const std::vector<unsigned long>& oids) {
  std::string text = "{";
  for (unsigned long oid : oids) text += (text.size() > 1 ? "," : "") + std::to_string(oid);
  return text + "}";
}

unsigned long ParseNumber(const std::string& text, size_t& pos, const std::string& line) {
  while (pos < text.size() && text[pos] == ' ') ++pos;
  const size_t start = pos;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
  if (pos == start) throw Failure("cannot read the dump's table of contents at: " + line);
  return std::stoul(text.substr(start, pos - start));
}

// The item's type: the words after the two catalog numbers that name one (all capitals), e.g.
// "TABLE DATA" in "TABLE DATA public users owner"; the schema, name and owner follow.
std::string ReadDesc(const std::string& rest) {
  static const char* const kTwoWord[] = {"TABLE DATA", "SEQUENCE SET", "FK CONSTRAINT", "MATERIALIZED VIEW DATA",
                                         "MATERIALIZED VIEW", "INDEX ATTACH", "DEFAULT ACL", "EVENT TRIGGER",
                                         "ROW SECURITY", "BLOB DATA", "LARGE OBJECT", "PUBLICATION TABLE"};
  for (const char* desc : kTwoWord) {
    const std::string d = desc;
    if (rest.compare(0, d.size(), d) == 0 && (rest.size() == d.size() || rest[d.size()] == ' ')) return d;
  }
  return rest.substr(0, rest.find(' '));
}

bool In(const std::set<unsigned long>& set, unsigned long oid) { return set.count(oid) > 0; }

RestorePhases Refused(const std::string& why) {
  RestorePhases refused;
  refused.why_not = why;
  return refused;
}

// A key to a partitioned table needs the partitions' indexes attached to its unique index first, and
// pg_restore lists those attachments (INDEX ATTACH) naming no table: they go last, so the key goes
// last too (else "there is no unique constraint matching given keys"). A preserved table's key
// cannot wait for restore-users: then no phases (the reason is returned).
std::string KeysToPartitionedTablesGoLast(pqxx::transaction_base& tx, const std::set<unsigned long>& preserved_set,
                                          std::map<CatalogObject, ItemTables>& items) {
  std::vector<unsigned long> referenced;
  for (const auto& item : items) {
    if (item.second.references != 0) referenced.push_back(item.second.references);
  }
  std::map<unsigned long, std::string> partitioned;
  for (const auto& row : tx.exec_params(kPartitionedQuery, OidArray(referenced))) {
    partitioned[row[0].as<unsigned long>()] = row[1].as<std::string>();
  }
  for (auto& item : items) {
    ItemTables& t = item.second;
    if (!partitioned.count(t.references)) continue;
    if (In(preserved_set, t.table)) {
      return "a preserved table's key refers to the partitioned table " + partitioned[t.references] +
             ", whose partitions' indexes are attached last";
    }
    t.table = 0;  // with the items that name no table: last
  }
  return "";
}

std::set<unsigned long> WithAncestors(pqxx::transaction_base& tx, const std::set<unsigned long>& streamed) {
  std::set<unsigned long> out;
  if (streamed.empty()) return out;
  const std::vector<unsigned long> list(streamed.begin(), streamed.end());
  for (const auto& row : tx.exec_params(kWithAncestorsQuery, OidArray(list))) out.insert(row[0].as<unsigned long>());
  return out;
}

}  // namespace

std::vector<TocEntry> ParseTocList(const std::string& text) {
  std::vector<TocEntry> entries;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == ';') continue;
    TocEntry e;
    e.line = line;
    size_t pos = 0;
    e.dump_id = static_cast<long long>(ParseNumber(line, pos, line));
    if (pos >= line.size() || line[pos] != ';') throw Failure("cannot read the dump's table of contents at: " + line);
    ++pos;
    e.catalog = ParseNumber(line, pos, line);
    e.oid = ParseNumber(line, pos, line);
    while (pos < line.size() && line[pos] == ' ') ++pos;
    e.desc = ReadDesc(line.substr(pos));
    entries.push_back(std::move(e));
  }
  return entries;
}

RestorePhases SplitRestore(const TocSections& toc, const std::set<unsigned long>& preserved_set,
                           const std::map<CatalogObject, ItemTables>& items,
                           const std::set<unsigned long>& streamed) {
  RestorePhases phases;
  for (const auto& e : toc.pre_data) phases.schema.push_back(e.line);
  for (const auto& e : toc.data) {
    const bool preserved = e.desc == "SEQUENCE SET" || (e.desc == "TABLE DATA" && In(preserved_set, e.oid));
    (preserved ? phases.preserved : phases.rest).push_back(e.line);
  }
  for (const auto& e : toc.post_data) {
    auto found = items.find({e.catalog, e.oid});
    if (e.desc == "MATERIALIZED VIEW DATA" || e.oid == 0 || found == items.end()) {
      phases.last.push_back(e.line);
      continue;
    }
    const ItemTables& t = found->second;
    const bool on_preserved = In(preserved_set, t.table);
    const bool to_preserved = t.references != 0 && In(preserved_set, t.references);
    if (on_preserved && t.references != 0 && !to_preserved) {
      phases.why_not = "a preserved table's item refers to a table outside the preserved ones: " + e.line;
      return phases;
    }
    if (on_preserved) {
      phases.preserved.push_back(e.line);
    } else if (to_preserved || t.table == 0) {
      phases.last.push_back(e.line);
    } else if (In(streamed, t.table) || In(streamed, t.references)) {
      phases.after_streams.push_back(e.line);  // an index built, a key checked, once the rows are in
    } else {
      phases.rest.push_back(e.line);
    }
  }
  return phases;
}

RestorePhases SectionPhases(const TocSections& toc) {
  RestorePhases phases;
  for (const auto& e : toc.pre_data) phases.schema.push_back(e.line);
  for (const auto& e : toc.data) phases.rest.push_back(e.line);
  for (const auto& e : toc.post_data) phases.after_streams.push_back(e.line);
  return phases;
}

std::set<unsigned long> PreservedSet(pqxx::transaction_base& tx, const std::string& schema,
                                     const std::vector<std::string>& tables) {
  std::set<unsigned long> preserved_set;
  for (const auto& table : tables) {
    auto r = tx.exec_params("SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = $1 AND c.relname = $2",
                            schema, table);
    if (!r.empty()) preserved_set.insert(r[0][0].as<unsigned long>());
  }
  if (preserved_set.empty()) return preserved_set;
  std::multimap<unsigned long, unsigned long> relatives;
  for (const auto& row : tx.exec(kRelativesQuery)) relatives.emplace(row[0].as<unsigned long>(), row[1].as<unsigned long>());
  std::vector<unsigned long> pending(preserved_set.begin(), preserved_set.end());
  while (!pending.empty()) {
    const unsigned long table = pending.back();
    pending.pop_back();
    auto range = relatives.equal_range(table);
    for (auto it = range.first; it != range.second; ++it) {
      if (preserved_set.insert(it->second).second) pending.push_back(it->second);
    }
  }
  return preserved_set;
}

namespace {

// The streamed tables' own primary keys and unique constraints that can be built on an index made
// first: not deferrable, the index in the default tablespace (pg_get_indexdef does not say another).
const char* const kStreamedKeysQuery = R"SQL(
SELECT c.oid, pg_get_indexdef(c.conindid),
       'ALTER TABLE ONLY ' || quote_ident(n.nspname) || '.' || quote_ident(t.relname) || ' ADD CONSTRAINT ' ||
       quote_ident(c.conname) || CASE c.contype WHEN 'p' THEN ' PRIMARY KEY' ELSE ' UNIQUE' END ||
       ' USING INDEX ' || quote_ident(i.relname)
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     JOIN pg_class i ON i.oid = c.conindid
WHERE c.oid = ANY($1::oid[]) AND c.conrelid = ANY($2::oid[]) AND c.contype IN ('p', 'u')
  AND NOT c.condeferrable AND i.reltablespace = 0)SQL";

void PlanStreamedKeys(pqxx::transaction_base& tx, const TocSections& toc, const std::set<unsigned long>& streamed,
                      RestorePhases& phases) {
  std::map<std::string, const TocEntry*> by_line;
  for (const auto& e : toc.post_data) by_line[e.line] = &e;
  std::vector<unsigned long> constraints;
  for (const auto& line : phases.after_streams) {
    const TocEntry* e = by_line.count(line) ? by_line[line] : nullptr;
    if (e && e->desc == "CONSTRAINT") constraints.push_back(e->oid);
  }
  if (constraints.empty()) return;
  // Every name qualified in the index definitions, whatever the target's search_path.
  tx.exec("SET LOCAL search_path = pg_catalog");
  std::set<unsigned long> built;
  for (const auto& row : tx.exec_params(kStreamedKeysQuery, OidArray(constraints),
                                        OidArray(std::vector<unsigned long>(streamed.begin(), streamed.end())))) {
    built.insert(row[0].as<unsigned long>());
    phases.streamed_keys.push_back({row[1].as<std::string>(), row[2].as<std::string>()});
  }
  if (built.empty()) return;
  std::vector<std::string> rest;
  for (const auto& line : phases.after_streams) {
    const TocEntry* e = by_line.count(line) ? by_line[line] : nullptr;
    if (e && e->desc == "CONSTRAINT" && built.count(e->oid)) continue;
    (e && e->desc == "INDEX" ? phases.stream_indexes : rest).push_back(line);
  }
  phases.after_streams = std::move(rest);
}

}  // namespace

RestorePhases PlanRestorePhases(pqxx::connection& source, const std::string& schema,
                                const std::vector<std::string>& tables, const TocSections& toc,
                                const std::set<unsigned long>& streamed) {
  pqxx::read_transaction tx(source);
  const std::set<unsigned long> preserved_set = PreservedSet(tx, schema, tables);
  if (preserved_set.empty()) return Refused("none of the preserved tables is in the source");
  const std::vector<unsigned long> preserved_list(preserved_set.begin(), preserved_set.end());
  auto own = tx.exec_params(kOwnTriggersQuery, OidArray(preserved_list));
  if (!own.empty()) {
    return Refused("table " + own[0][0].as<std::string>() + " has a trigger or rule (" + own[0][1].as<std::string>() +
                   "): what it writes could be a table still restoring");
  }

  std::set<unsigned long> known_catalogs;
  for (const auto& row : tx.exec(kKnownCatalogsQuery)) known_catalogs.insert(row[0].as<unsigned long>());
  std::vector<unsigned long> catalogs, oids;
  for (const auto& e : toc.post_data) {
    if (e.oid == 0 || !known_catalogs.count(e.catalog)) continue;
    catalogs.push_back(e.catalog);
    oids.push_back(e.oid);
  }
  std::map<CatalogObject, ItemTables> items;
  for (const auto& row : tx.exec_params(kItemTablesQuery, OidArray(catalogs), OidArray(oids))) {
    items[{row[0].as<unsigned long>(), row[1].as<unsigned long>()}] = {row[2].as<unsigned long>(),
                                                                       row[3].as<unsigned long>()};
  }
  // An object of a known catalog the source no longer has was changed since the dump: its table is unknown.
  for (size_t i = 0; i < oids.size(); ++i) {
    if (!items.count({catalogs[i], oids[i]})) {
      return Refused("the source changed since the dump (object " + std::to_string(oids[i]) + " is gone)");
    }
  }
  const std::string why_not = KeysToPartitionedTablesGoLast(tx, preserved_set, items);
  if (!why_not.empty()) return Refused(why_not);
  RestorePhases phases = SplitRestore(toc, preserved_set, items, WithAncestors(tx, streamed));
  if (phases.usable() && !streamed.empty()) PlanStreamedKeys(tx, toc, streamed, phases);
  return phases;
}

}  // namespace dbrefresh
