// The order of the restore, so that restore-users need not wait for the whole dump.
//
// restore-users only needs the preserved tables and the tables they reference (their FK parents,
// transitively, and their partitions and inheritance relatives): call these the preserved set. The
// dump's items are split into four lists for `pg_restore --use-list`:
//   schema     every pre-data item (the empty tables, types, functions, views);
//   preserved  the data, indexes, constraints and other post-data items of the preserved set, and
//              every sequence value (restore-users moves the preserved tables' sequences past their
//              rows: prod's value must be set first);
//   rest       the data and post-data items of every other table: restored at the same time as
//              the preserved list, and still running while restore-users runs;
//   after_streams  with streamed tables (table_streams.h: their data goes source -> target by COPY,
//              not through the dump), the post-data items on a streamed table, on one of its
//              ancestors (a partitioned table's trigger or key reaches its partitions), or referring
//              to one: restored once the streams and the rest are in;
//   last       what has to wait for restore-users: foreign keys from other tables to the preserved
//              set (adding one locks the table restore-users writes to), materialized view data
//              (it may read the preserved tables), items naming no table (comments, and the INDEX
//              ATTACH items of partitions), and so the foreign keys to a partitioned table, which
//              need those attachments first.
// At SPEC scale, with the faster restore-users of the same change, the refresh went from 39.4 s to
// 29.6 s on 2 cores (scripts/bench.sh medians): the restore of the large tables no longer waits for
// restore-users, nor restore-users for them.
//
// When an item cannot be placed safely the split is refused (`why_not` says why) and the refresh
// restores the whole dump first, then runs restore-users, as before.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace dbrefresh {

// One line of `pg_restore --list`: "3519; 0 16524 TABLE DATA public users owner".
struct TocEntry {
  std::string line;          // as printed, for the list file
  long long dump_id = 0;
  unsigned long catalog = 0; // the system catalog the object lives in (pg_constraint's oid, ...); 0 for data
  unsigned long oid = 0;     // the object's oid in the source; for TABLE DATA the table's
  std::string desc;          // "TABLE DATA", "SEQUENCE SET", "FK CONSTRAINT", ...
};

// Parses `pg_restore --list` output; comment lines (';') and blank lines are skipped. Throws
// Failure on a line it cannot read.
std::vector<TocEntry> ParseTocList(const std::string& text);

// What a post-data item belongs to, from the source's catalogs: its table and, for a foreign key
// or a constraint trigger, the table it references (0: none).
struct ItemTables {
  unsigned long table = 0;
  unsigned long references = 0;
};
using CatalogObject = std::pair<unsigned long, unsigned long>;  // (catalog, oid)

struct TocSections {
  std::vector<TocEntry> pre_data, data, post_data;
};

// A primary key or unique constraint of a streamed table, built as pgcopydb builds it: its unique
// index first, alongside the table's other indexes, then the constraint on that index. pg_restore
// would build them one after the other (adding a constraint locks the table the index builds read).
struct StreamedKey {
  std::string create_index;    // CREATE UNIQUE INDEX ..., as pg_get_indexdef prints it, names qualified
  std::string add_constraint;  // ALTER TABLE ONLY ... ADD CONSTRAINT ... PRIMARY KEY|UNIQUE USING INDEX ...
};

struct RestorePhases {
  std::vector<std::string> schema, preserved, rest, after_streams, last;  // list-file lines
  // With streamed keys: their CONSTRAINT items are left out of after_streams, and its INDEX items
  // move to stream_indexes, restored while the keys are built; the rest of after_streams follows.
  std::vector<StreamedKey> streamed_keys;
  std::vector<std::string> stream_indexes;
  std::string why_not;                                     // not empty: restore everything first
  bool usable() const { return why_not.empty(); }
};

// The pure part: places every entry given the preserved set, the streamed tables (never in the
// preserved set) and what each post-data item belongs to.
RestorePhases SplitRestore(const TocSections& toc, const std::set<unsigned long>& preserved_set,
                           const std::map<CatalogObject, ItemTables>& items,
                           const std::set<unsigned long>& streamed = {});

// Without phases, when tables are streamed: the schema, then the dump's data alongside the streams,
// then every post-data item once both are in. Nothing runs after restore-users.
RestorePhases SectionPhases(const TocSections& toc);

// The source's oids of `tables` in `schema` and of every table they depend on for restore-users:
// FK parents (transitively), partitions and inheritance relatives. Empty when none is in the source.
std::set<unsigned long> PreservedSet(pqxx::transaction_base& tx, const std::string& schema,
                                     const std::vector<std::string>& tables);

// Reads from the source what SplitRestore needs and calls it: the preserved set of `tables` in
// `schema`, the tables of every post-data item, and the ancestors of the `streamed` tables (counted
// as streamed). Refuses the split (why_not) when a preserved table has triggers or rules of its
// own (what they write could be in a table still being restored), or a foreign key to a
// partitioned table (it could only go last, after restore-users).
RestorePhases PlanRestorePhases(pqxx::connection& source, const std::string& schema,
                                const std::vector<std::string>& tables, const TocSections& toc,
                                const std::set<unsigned long>& streamed = {});

}  // namespace dbrefresh
