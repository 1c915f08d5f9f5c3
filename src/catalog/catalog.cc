// Catalog queries. Each function runs one or two parameterised queries against pg_catalog.
#include "catalog/catalog.h"

#include <algorithm>

#include "catalog/flyway_version.h"
#include "common/sql_text.h"

namespace dbrefresh::catalog {
namespace {

const char* kColumnsQuery = R"SQL(
SELECT a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
       a.attidentity::text,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum)SQL";

const char* kConstraintsQuery = R"SQL(
SELECT c.conname, c.contype::text,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
       pg_get_constraintdef(c.oid),
       CASE WHEN c.contype = 'f' THEN rc.relname END,
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
FROM pg_constraint c
LEFT JOIN pg_class rc ON rc.oid = c.confrelid
WHERE c.conrelid = $1::regclass AND c.contype IN ('p', 'u', 'f', 'c')
ORDER BY CASE c.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'f' THEN 2 ELSE 3 END, c.conname)SQL";

const char* kObjectsQuery = R"SQL(
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
ext AS (SELECT objid, classid FROM pg_depend WHERE deptype = 'e')
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' END, c.relname
FROM pg_class c, ns
WHERE c.relnamespace = ns.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.objid = c.oid AND ext.classid = 'pg_class'::regclass)
  AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
           AND d.objid = c.oid AND d.deptype IN ('a', 'i') AND d.refclassid = 'pg_class'::regclass))
UNION ALL
SELECT 'type', t.typname FROM pg_type t, ns
WHERE t.typnamespace = ns.oid AND t.typtype IN ('e', 'd', 'c', 'r', 'm')
  AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
  AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.objid = t.oid AND ext.classid = 'pg_type'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'i')
UNION ALL
SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' FROM pg_proc p, ns
WHERE p.pronamespace = ns.oid
  AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.objid = p.oid AND ext.classid = 'pg_proc'::regclass)
ORDER BY 1, 2)SQL";

const char* kDependenciesQuery = R"SQL(
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
SELECT 'table', c.relname, CASE r.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END,
       r.relname, 'foreign key ' || con.conname
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid, ns
WHERE con.contype = 'f' AND c.relnamespace = ns.oid AND con.conrelid <> con.confrelid
UNION
SELECT CASE v.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, v.relname,
       CASE r.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END,
       r.relname, 'view definition'
FROM pg_depend d
JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
JOIN pg_class v ON v.oid = rw.ev_class
JOIN pg_class r ON d.refclassid = 'pg_class'::regclass AND r.oid = d.refobjid, ns
WHERE v.relnamespace = ns.oid AND v.oid <> r.oid AND v.relkind IN ('v', 'm') AND r.relkind IN ('r', 'p', 'v', 'm')
ORDER BY 1, 2, 4)SQL";

std::vector<std::string> TextArray(const pqxx::field& field) {
  std::vector<std::string> out;
  if (field.is_null()) return out;
  auto parser = field.as_array();
  for (auto item = parser.get_next(); item.first != pqxx::array_parser::done; item = parser.get_next()) {
    if (item.first == pqxx::array_parser::string_value) out.push_back(item.second);
  }
  return out;
}

std::optional<std::string> OptionalText(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

}  // namespace

bool TableExists(pqxx::transaction_base& tx, const std::string& schema, const std::string& table) {
  auto r = tx.exec_params(
      "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
      schema, table);
  return !r.empty();
}

std::optional<TableInfo> ReadTable(pqxx::transaction_base& tx, const std::string& schema, const std::string& table) {
  if (!TableExists(tx, schema, table)) return std::nullopt;
  TableInfo info{schema, table, {}, {}};
  const std::string regclass = sql::QualifiedName(schema, table);
  for (const auto& row : tx.exec_params(kColumnsQuery, regclass)) {
    ColumnInfo c;
    c.name = row[0].as<std::string>();
    c.position = row[1].as<int>();
    c.type = row[2].as<std::string>();
    c.not_null = row[3].as<bool>();
    c.default_expr = OptionalText(row[4]);
    c.identity = row[5].as<std::string>();
    c.generated_expr = OptionalText(row[6]);
    info.columns.push_back(std::move(c));
  }
  for (const auto& row : tx.exec_params(kConstraintsQuery, regclass)) {
    ConstraintInfo c;
    c.name = row[0].as<std::string>();
    c.kind = row[1].as<std::string>()[0];
    c.columns = TextArray(row[2]);
    c.definition = row[3].as<std::string>();
    c.ref_table = row[4].is_null() ? "" : row[4].as<std::string>();
    c.ref_columns = TextArray(row[5]);
    info.constraints.push_back(std::move(c));
  }
  return info;
}

std::vector<CatalogObject> ListObjects(pqxx::transaction_base& tx, const std::string& schema) {
  std::vector<CatalogObject> objects;
  for (const auto& row : tx.exec_params(kObjectsQuery, schema)) {
    objects.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
  }
  return objects;
}

std::vector<Dependency> ListDependencies(pqxx::transaction_base& tx, const std::string& schema) {
  std::vector<Dependency> deps;
  for (const auto& row : tx.exec_params(kDependenciesQuery, schema)) {
    deps.push_back({{row[0].as<std::string>(), row[1].as<std::string>()},
                    {row[2].as<std::string>(), row[3].as<std::string>()},
                    row[4].as<std::string>()});
  }
  return deps;
}

std::vector<Migration> ReadMigrations(pqxx::transaction_base& tx, const std::string& schema,
                                      const std::string& history_table) {
  std::vector<Migration> migrations;
  if (!TableExists(tx, schema, history_table)) return migrations;
  const std::string query = "SELECT version, coalesce(description, ''), coalesce(script, ''), installed_rank FROM " +
                            sql::QualifiedName(schema, history_table) +
                            " WHERE success AND version IS NOT NULL";
  for (const auto& row : tx.exec(query)) {
    migrations.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                          row[3].as<int>()});
  }
  std::stable_sort(migrations.begin(), migrations.end(), [](const Migration& a, const Migration& b) {
    return CompareFlywayVersions(a.version, b.version) < 0;
  });
  return migrations;
}

}  // namespace dbrefresh::catalog
