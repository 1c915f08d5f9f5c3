// Catalog introspection of a live database: tables, columns, constraints, other objects,
// the dependencies between them, and the Flyway history. Read-only queries only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "catalog/schema_model.h"

namespace dbrefresh::catalog {

// The table's columns (dropped ones excluded) and constraints, or nullopt when it does not exist.
std::optional<TableInfo> ReadTable(pqxx::transaction_base& tx, const std::string& schema, const std::string& table);

// An object in a schema, as preflight lists it.
struct CatalogObject {
  std::string kind;  // table, view, materialized view, sequence, type, function
  std::string name;  // for functions: name(argument types)
  bool operator<(const CatalogObject& o) const { return kind != o.kind ? kind < o.kind : name < o.name; }
  bool operator==(const CatalogObject& o) const { return kind == o.kind && name == o.name; }
};

// Every user object of the schema, excluding members of extensions and sequences owned by a column.
std::vector<CatalogObject> ListObjects(pqxx::transaction_base& tx, const std::string& schema);

// "dependent needs referenced": a foreign key from a table, or a view/materialized view over a relation.
struct Dependency {
  CatalogObject dependent;
  CatalogObject referenced;
  std::string how;  // "foreign key <name>" or "view definition"
};
std::vector<Dependency> ListDependencies(pqxx::transaction_base& tx, const std::string& schema);

// A successful versioned migration from flyway_schema_history.
struct Migration {
  std::string version;
  std::string description;
  std::string script;
  int installed_rank = 0;
};

// Successful versioned rows in Flyway order; an absent history table gives an empty list.
std::vector<Migration> ReadMigrations(pqxx::transaction_base& tx, const std::string& schema,
                                      const std::string& history_table);

// True when the relation exists in the schema.
bool TableExists(pqxx::transaction_base& tx, const std::string& schema, const std::string& table);

}  // namespace dbrefresh::catalog
