// DDL of target-only objects: pg_dump for relations, catalog functions for types and functions.
#include "refresh/dropped_ddl.h"

#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/sql_text.h"
#include "connect/pg_session.h"
#include "refresh/run_files.h"
#include "refresh/scratch_dir.h"

namespace dbrefresh {
namespace {

// One CREATE statement per type of the schema, built by the server from its catalog.
const char* kTypesDdlQuery = R"SQL(
SELECT t.typname, CASE t.typtype
  WHEN 'e' THEN format('CREATE TYPE %I.%I AS ENUM (%s);', n.nspname, t.typname,
    (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
  WHEN 'd' THEN format('CREATE DOMAIN %I.%I AS %s%s%s%s;', n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod),
    CASE WHEN t.typdefault IS NOT NULL THEN ' DEFAULT ' || t.typdefault ELSE '' END,
    CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END,
    coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), '')
              FROM pg_constraint c WHERE c.contypid = t.oid), ''))
  WHEN 'c' THEN format('CREATE TYPE %I.%I AS (%s);', n.nspname, t.typname,
    (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
     FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
  WHEN 'r' THEN format('CREATE TYPE %I.%I AS RANGE (subtype = %s);', n.nspname, t.typname,
    (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid))
  ELSE format('-- type %I.%I: its DDL is not reproduced here', n.nspname, t.typname) END
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = $1)SQL";

// The same "name(arguments)" as catalog::ListObjects, with the definition.
const char* kFunctionsDdlQuery = R"SQL(
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       CASE WHEN p.prokind = 'a' THEN format('-- aggregate %I.%I: its DDL is not reproduced here', n.nspname, p.proname)
            ELSE pg_get_functiondef(p.oid) || ';' END
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1)SQL";

bool IsRelation(const std::string& kind) {
  return kind == "table" || kind == "view" || kind == "materialized view" || kind == "sequence";
}

// Appends the catalog DDL of the wanted objects of one kind ("type" or "function").
void AppendCatalogDdl(pqxx::connection& conn, const std::vector<SchemaObject>& objects, const std::string& kind,
                      const char* query, std::ostringstream& out) {
  try {
    pqxx::read_transaction tx(conn);
    for (const auto& o : objects) {
      if (o.object.kind != kind) continue;
      for (const auto& row : tx.exec_params(query, o.schema)) {
        if (row[0].as<std::string>() != o.object.name) continue;
        out << "-- " << kind << " " << sql::CommentText(o.schema + "." + o.object.name) << "\n" << row[1].as<std::string>() << "\n\n";
      }
    }
  } catch (...) {
    RethrowDatabaseError("reading the DDL of target-only " + kind + "s");
  }
}

// pg_dump --schema-only of the target-only relations, appended to `out`.
void AppendRelationsDdl(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& target,
                        const std::vector<SchemaObject>& objects, int lock_timeout_seconds, std::ostringstream& out) {
  std::vector<std::string> args = {"--schema-only", "--lock-wait-timeout=" + std::to_string(lock_timeout_seconds * 1000)};
  for (const auto& o : objects) {
    if (IsRelation(o.object.kind)) args.push_back("--table=" + sql::QualifiedName(o.schema, o.object.name));
  }
  if (args.size() == 2) return;
  ScratchDir scratch("dropped-ddl");
  args.push_back("--file=" + scratch.File("relations.sql"));
  RequireSuccess(runner.Run(PgCommand(tools, "pg_dump", target, args)), "pg_dump of the target-only relations");
  std::ifstream in(scratch.File("relations.sql"));
  out << in.rdbuf() << "\n";
}

}  // namespace

void WriteDroppedDdl(ProcessRunner& runner, const PgTools& tools, const ConnectionSpec& target, pqxx::connection& conn,
                     const std::vector<SchemaObject>& objects, const std::string& path, int lock_timeout_seconds) {
  std::ostringstream out;
  out << "-- dbrefresh: DDL of the objects only the target had, removed by the refresh of " << log::UtcNow() << ".\n"
      << "-- Types first, then tables/views/sequences (pg_dump --schema-only), then functions. No data.\n";
  for (const auto& o : objects) out << "--   " << o.object.kind << " " << sql::CommentText(o.schema + "." + o.object.name) << "\n";
  if (objects.empty()) out << "--   (none)\n";
  out << "\n";
  AppendCatalogDdl(conn, objects, "type", kTypesDdlQuery, out);
  AppendRelationsDdl(runner, tools, target, objects, lock_timeout_seconds, out);
  AppendCatalogDdl(conn, objects, "function", kFunctionsDdlQuery, out);
  WritePrivateFile(path, out.str());
  log::Info("wrote the DDL of the target-only objects", {{"file", path}, {"objects", objects.size()}});
}

}  // namespace dbrefresh
