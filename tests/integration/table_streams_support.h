// Helpers for the tests of the streamed tables (issue 15): what a refresh must leave identical to
// prod, compared table by table (every row as canonical JSON, whatever the column order) and in the
// catalog (indexes, constraints, triggers, sequence values), and the report's list of streamed tables.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reliability_support.h"

namespace dbrefresh::testing {

// The schemas a refresh replaces: every one but the system's and dbrefresh's own (the mark, the capture).
inline std::string UserSchemaFilter(const std::string& nspname) {
  return nspname + " NOT IN ('pg_catalog', 'information_schema', 'dbrefresh', 'dbrefresh_capture') AND " + nspname +
         " NOT LIKE 'pg\\_%'";
}

// The ordinary and partitioned tables of the user schemas: "schema.table" (as the report names them)
// -> the name quoted for SQL.
inline std::map<std::string, std::string> UserTables(const std::string& url) {
  std::map<std::string, std::string> tables;
  for (const auto& row : Query(url, "SELECT n.nspname || '.' || c.relname, format('%I.%I', n.nspname, c.relname) "
                                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                    "WHERE c.relkind IN ('r', 'p') AND " + UserSchemaFilter("n.nspname"))) {
    tables[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  return tables;
}

// The row count and an md5 over the rows of the table itself (ONLY: not its inheritance children),
// each as jsonb text: its keys are sorted, so a table restored with another column order than the
// source's (an inheritance child) compares equal exactly when every value is.
inline std::string RowsDigest(const std::string& url, const std::string& quoted_table) {
  return Scalar(url, "SET TimeZone = 'UTC'; SELECT count(*) || ' rows, md5 ' || "
                     "md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) FROM "
                     "(SELECT to_jsonb(t)::text AS r FROM ONLY " + quoted_table + " t) s");
}

// RowsDigest of every user table but `except` ("schema.table").
inline std::map<std::string, std::string> RowsDigests(const std::string& url, const std::set<std::string>& except) {
  std::map<std::string, std::string> digests;
  for (const auto& [name, quoted] : UserTables(url)) {
    if (!except.count(name)) digests[name] = RowsDigest(url, quoted);
  }
  return digests;
}

// The catalog's facts a restore must reproduce, one line each: every index (with its definition and
// validity), constraint (with its definition and whether it is validated), trigger (with whether it is
// enabled) and sequence value of the user schemas.
inline std::set<std::string> CatalogFacts(const std::string& url) {
  std::set<std::string> facts = Set(
      url, "SELECT 'index ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid FROM pg_index i "
           "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " +
               UserSchemaFilter("n.nspname"));
  for (const auto& f : Set(url, "SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || "
                                "pg_get_constraintdef(c.oid) || ' validated=' || c.convalidated FROM pg_constraint c "
                                "JOIN pg_namespace n ON n.oid = c.connamespace WHERE " + UserSchemaFilter("n.nspname"))) {
    facts.insert(f);
  }
  for (const auto& f : Set(url, "SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text "
                                "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n "
                                "ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND " + UserSchemaFilter("n.nspname"))) {
    facts.insert(f);
  }
  for (const auto& f : Set(url, "SELECT 'sequence ' || format('%I.%I', schemaname, sequencename) || ' ' || "
                                "coalesce(last_value::text, 'not called') FROM pg_sequences WHERE " +
                                    UserSchemaFilter("schemaname"))) {
    facts.insert(f);
  }
  return facts;
}

// The elements of `a` that `b` lacks, and those of `b` that `a` lacks, for a readable failure.
inline std::string SetDifference(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::string out;
  for (const auto& x : a) {
    if (!b.count(x)) out += "\n  only in prod:   " + x;
  }
  for (const auto& x : b) {
    if (!a.count(x)) out += "\n  only in target: " + x;
  }
  return out;
}

inline std::string MapDifference(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b) {
  std::string out;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      out += "\n  " + k + ": missing from the target";
    } else if (it->second != v) {
      out += "\n  " + k + ": prod " + v + ", target " + it->second;
    }
  }
  for (const auto& [k, v] : b) {
    if (!a.count(k)) out += "\n  " + k + ": only in the target";
  }
  return out;
}

// The preserved tables of the default config: restore-users adds preprod's people to them.
inline const std::set<std::string>& DefaultPreservedTables() {
  static const std::set<std::string> tables = {"public.users", "public.user_role_assignments",
                                               "public.user_qualification_assignments"};
  return tables;
}

// Every table but the preserved ones holds exactly prod's rows, and the catalog is prod's.
inline void ExpectTargetIsProdBesidesThePreservedTables(const std::string& prod_url, const std::string& target_url) {
  const auto prod_rows = RowsDigests(prod_url, DefaultPreservedTables());
  const auto target_rows = RowsDigests(target_url, DefaultPreservedTables());
  EXPECT_EQ(prod_rows, target_rows) << "tables whose rows differ:" << MapDifference(prod_rows, target_rows);
  const auto prod_facts = CatalogFacts(prod_url), target_facts = CatalogFacts(target_url);
  EXPECT_EQ(prod_facts, target_facts) << SetDifference(prod_facts, target_facts);
}

// The report's step `name`, or null.
inline nlohmann::json ReportStep(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["steps"]) {
    if (s["name"] == name) return s;
  }
  return nullptr;
}

// The restore step's streamed_tables ("schema.table"), or nothing when it has none.
inline std::set<std::string> StreamedTables(const nlohmann::json& report) {
  std::set<std::string> names;
  const auto restore = ReportStep(report, "restore");
  if (restore.is_null() || !restore["counts"].contains("streamed_tables")) return names;
  for (const auto& n : restore["counts"]["streamed_tables"]) names.insert(n.get<std::string>());
  return names;
}

inline bool HasStreamedTables(const nlohmann::json& report) {
  const auto restore = ReportStep(report, "restore");
  return !restore.is_null() && restore["counts"].contains("streamed_tables");
}

}  // namespace dbrefresh::testing
