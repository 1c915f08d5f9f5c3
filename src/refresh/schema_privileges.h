// A schema's owner, grants and default privileges, captured before strategy `schema` drops it and
// applied again to the recreated schema, so the service's roles keep their access.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace dbrefresh {

struct SchemaPrivileges {
  std::string schema;
  std::string owner;
  // Statements to replay, each built with quoted identifiers: GRANT ... ON SCHEMA, and
  // ALTER DEFAULT PRIVILEGES FOR ROLE ... IN SCHEMA ... GRANT ...
  std::vector<std::string> statements;
};

// Reads them inside the caller's transaction. An absent schema gives an empty owner.
SchemaPrivileges ReadSchemaPrivileges(pqxx::transaction_base& tx, const std::string& schema);

// Sets the owner and replays the statements, each in its own savepoint: one the current user may
// not run (e.g. ALTER DEFAULT PRIVILEGES for a role it is not a member of) is logged as a warning
// and skipped. Returns the warnings.
std::vector<std::string> ApplySchemaPrivileges(pqxx::dbtransaction& tx, const SchemaPrivileges& privileges);

}  // namespace dbrefresh
