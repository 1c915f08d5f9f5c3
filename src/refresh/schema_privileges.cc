// Capturing and replaying schema owner, grants and default privileges (see schema_privileges.h).
#include "refresh/schema_privileges.h"

#include "common/log.h"
#include "common/sql_text.h"

namespace dbrefresh {
namespace {

// Grants on the schema other than the owner's own, and default privileges scoped to the schema.
const char* kGrantsQuery = R"SQL(
SELECT 'schema' AS what, NULL::text AS role, CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee) END,
       a.privilege_type, a.is_grantable, NULL::text AS objtype
FROM pg_namespace n, aclexplode(n.nspacl) a
WHERE n.nspname = $1 AND a.grantee <> n.nspowner
UNION ALL
SELECT 'default', pg_get_userbyid(d.defaclrole), CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee) END,
       a.privilege_type, a.is_grantable, d.defaclobjtype::text
FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
WHERE n.nspname = $1
ORDER BY 1, 2, 3, 4)SQL";

std::string Grantee(const std::string& role) { return role.empty() ? "PUBLIC" : sql::QuoteIdent(role); }

std::string ObjectClass(const std::string& objtype) {
  if (objtype == "r") return "TABLES";
  if (objtype == "S") return "SEQUENCES";
  if (objtype == "f") return "FUNCTIONS";
  if (objtype == "T") return "TYPES";
  return "";
}

std::string GrantStatement(const pqxx::row& row, const std::string& schema) {
  const std::string grant = row[3].as<std::string>() + " ON ";
  const std::string to = " TO " + Grantee(row[2].as<std::string>()) + (row[4].as<bool>() ? " WITH GRANT OPTION" : "");
  if (row[0].as<std::string>() == "schema") return "GRANT " + grant + "SCHEMA " + sql::QuoteIdent(schema) + to;
  const std::string objects = ObjectClass(row[5].as<std::string>());
  if (objects.empty()) return "";
  return "ALTER DEFAULT PRIVILEGES FOR ROLE " + sql::QuoteIdent(row[1].as<std::string>()) + " IN SCHEMA " +
         sql::QuoteIdent(schema) + " GRANT " + grant + objects + to;
}

}  // namespace

SchemaPrivileges ReadSchemaPrivileges(pqxx::transaction_base& tx, const std::string& schema) {
  SchemaPrivileges p;
  p.schema = schema;
  auto owner = tx.exec_params("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1", schema);
  if (owner.empty()) return p;
  p.owner = owner[0][0].as<std::string>();
  for (const auto& row : tx.exec_params(kGrantsQuery, schema)) {
    std::string statement = GrantStatement(row, schema);
    if (!statement.empty()) p.statements.push_back(statement);
  }
  return p;
}

std::vector<std::string> ApplySchemaPrivileges(pqxx::dbtransaction& tx, const SchemaPrivileges& privileges) {
  std::vector<std::string> warnings;
  std::vector<std::string> statements = privileges.statements;
  if (!privileges.owner.empty()) {
    statements.insert(statements.begin(), "ALTER SCHEMA " + sql::QuoteIdent(privileges.schema) + " OWNER TO " +
                                              sql::QuoteIdent(privileges.owner));
  }
  for (const auto& statement : statements) {
    try {
      pqxx::subtransaction savepoint(tx);
      savepoint.exec(statement);
      savepoint.commit();
    } catch (const pqxx::sql_error& e) {
      warnings.push_back("could not restore on schema " + privileges.schema + ": " + statement + " (" +
                         std::string(e.what()).substr(0, std::string(e.what()).find('\n')) + ")");
      log::Warn(warnings.back());
    }
  }
  return warnings;
}

}  // namespace dbrefresh
