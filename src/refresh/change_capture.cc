// Triggers, log and catch-up reads of the change capture (see change_capture.h).
#include "refresh/change_capture.h"

#include <functional>

#include "catalog/catalog.h"
#include "common/error.h"
#include "common/log.h"
#include "common/sql_text.h"
#include "connect/pg_session.h"

namespace dbrefresh {
namespace {

constexpr const char* kBodyQuote = "$dbrefresh_capture$";

std::string CaptureTable(const std::string& table) { return sql::QualifiedName(kCaptureSchema, table); }

std::string Joined(const std::vector<std::string>& names, const std::string& prefix, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? separator : "") + prefix + sql::QuoteIdent(names[i]);
  return out;
}

// The trigger function of one table: logs OLD's key (update, delete) and NEW's (insert, update).
// SECURITY DEFINER: the application's role needs no rights on the capture schema.
std::string TriggerFunction(const std::string& function, const std::string& table, const std::vector<std::string>& key) {
  const std::string log = "INSERT INTO " + CaptureTable(table) + " (" + Joined(key, "", ", ") + ") VALUES (";
  return "CREATE FUNCTION " + function + "() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER " +
         "SET search_path = pg_catalog, pg_temp AS " + kBodyQuote + "\nBEGIN\n" +
         "  IF TG_OP <> 'INSERT' THEN " + log + Joined(key, "OLD.", ", ") + "); END IF;\n" +
         "  IF TG_OP <> 'DELETE' THEN " + log + Joined(key, "NEW.", ", ") + "); END IF;\n" +
         "  RETURN NULL;\nEND\n" + kBodyQuote;
}

// The key columns of a capture log table (every column but the sequence).
std::vector<std::string> LoggedKey(pqxx::transaction_base& tx, const std::string& table) {
  std::vector<std::string> key;
  for (const auto& row : tx.exec_params(
           "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 "
           "AND NOT a.attisdropped AND a.attname <> 'dbrefresh_seq' ORDER BY a.attnum",
           CaptureTable(table))) {
    key.push_back(row[0].as<std::string>());
  }
  return key;
}

TableChanges ReadTableChanges(pqxx::transaction_base& tx, const std::string& schema, const SnapshotTable& table,
                              const std::vector<std::string>& key, bool consume) {
  TableChanges out{table.info.name, key, {}};
  const std::string log = CaptureTable(table.info.name);
  const std::string changed = consume ? "WITH d AS (DELETE FROM " + log + " RETURNING " + Joined(key, "", ", ") +
                                            "), changed AS (SELECT DISTINCT * FROM d) "
                                      : "WITH changed AS (SELECT DISTINCT " + Joined(key, "", ", ") + " FROM " + log + ") ";
  std::string join;
  for (size_t i = 0; i < key.size(); ++i) {
    join += (i ? " AND " : "") + std::string("t.") + sql::QuoteIdent(key[i]) + " = changed." + sql::QuoteIdent(key[i]);
  }
  std::vector<std::string> columns;
  for (const auto& c : table.info.columns) columns.push_back(c.name);
  // The key's first column is NOT NULL in the table (a primary key): NULL there means the row is gone.
  const std::string query = changed + "SELECT " + Joined(key, "changed.", ", ") + ", t." + sql::QuoteIdent(key[0]) +
                            " IS NOT NULL, " + Joined(columns, "t.", ", ") + " FROM changed LEFT JOIN " +
                            sql::QualifiedName(schema, table.info.name) + " t ON " + join;
  for (const auto& row : tx.exec(query)) {
    ChangedRow change;
    for (size_t i = 0; i < key.size(); ++i) change.key.push_back(row[static_cast<int>(i)].c_str());
    if (row[static_cast<int>(key.size())].as<bool>()) {
      RowValues values;
      for (size_t i = 0; i < columns.size(); ++i) {
        const auto& field = row[static_cast<int>(key.size() + 1 + i)];
        values.push_back(field.is_null() ? std::nullopt : std::optional<std::string>(field.c_str()));
      }
      change.row = std::move(values);
    }
    out.rows.push_back(std::move(change));
  }
  return out;
}

}  // namespace

namespace {

std::vector<std::string> InstallOnce(pqxx::connection& target, const std::string& schema,
                                     const std::vector<std::string>& tables, int lock_timeout_seconds) {
  std::vector<std::string> warnings;
  pqxx::work tx(target);
  tx.exec("SET LOCAL lock_timeout = '" + std::to_string(lock_timeout_seconds) + "s'");
  tx.exec(std::string("DROP SCHEMA IF EXISTS ") + sql::QuoteIdent(kCaptureSchema) + " CASCADE");
  tx.exec(std::string("CREATE SCHEMA ") + sql::QuoteIdent(kCaptureSchema));
  int n = 0;
  for (const auto& name : tables) {
    auto info = catalog::ReadTable(tx, schema, name);
    if (!info) continue;  // the snapshot says which preserved table is missing
    const ConstraintInfo* pk = info->PrimaryKey();
    if (!pk) {
      warnings.push_back("table " + schema + "." + name + " has no primary key: writes to it during the refresh "
                         "cannot be caught up; the snapshot keeps it as it was when taken");
      continue;
    }
    for (const auto& c : pk->columns) {
      if ((name + c).find('$') != std::string::npos) throw Failure("cannot capture changes of " + name + ": a '$' in its name");
    }
    const std::string function = sql::QualifiedName(kCaptureSchema, "record_" + std::to_string(++n));
    // Typed like the key: the logged values compare with the table's and print as the snapshot's.
    tx.exec("CREATE TABLE " + CaptureTable(name) + " AS SELECT " + Joined(pk->columns, "", ", ") + " FROM " +
            sql::QualifiedName(schema, name) + " WITH NO DATA");
    tx.exec("ALTER TABLE " + CaptureTable(name) + " ADD COLUMN dbrefresh_seq bigint GENERATED ALWAYS AS IDENTITY");
    tx.exec(TriggerFunction(function, name, pk->columns));
    tx.exec("CREATE TRIGGER dbrefresh_capture AFTER INSERT OR UPDATE OR DELETE ON " + sql::QualifiedName(schema, name) +
            " FOR EACH ROW EXECUTE FUNCTION " + function + "()");
  }
  tx.commit();
  return warnings;
}

}  // namespace

std::vector<std::string> InstallCapture(pqxx::connection& target, const std::string& schema,
                                        const std::vector<std::string>& tables, int lock_timeout_seconds,
                                        const std::function<void()>& before_attempt) {
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    if (before_attempt) before_attempt();
    try {
      return InstallOnce(target, schema, tables, lock_timeout_seconds);
    } catch (const Error&) {
      throw;
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != "55P03" && e.sqlstate() != "40P01") RethrowDatabaseError("installing the change capture on the target");
      log::Warn("could not lock the preserved tables to install the change capture within the lock timeout; nothing "
                "was changed", {{"attempt", attempt}, {"of", kAttempts}});
      if (attempt >= kAttempts) break;
    } catch (...) {
      RethrowDatabaseError("installing the change capture on the target");
    }
  }
  throw Failure("could not install the change capture on the target within " + std::to_string(lock_timeout_seconds) +
                " s (" + std::to_string(kAttempts) + " attempts): other sessions hold locks on the preserved tables. "
                "The target is unchanged. Stop them, or re-run with --terminate-connections to end every other "
                "session on the target database");
}

bool HasCapture(pqxx::transaction_base& tx) {
  return !tx.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", std::string(kCaptureSchema)).empty();
}

void DropCapture(pqxx::transaction_base& tx) {
  tx.exec(std::string("DROP SCHEMA IF EXISTS ") + sql::QuoteIdent(kCaptureSchema) + " CASCADE");
}

std::vector<TableChanges> ReadCapturedChanges(pqxx::transaction_base& tx, const std::string& schema,
                                              const std::vector<SnapshotTable>& tables, bool consume) {
  std::vector<TableChanges> out;
  tx.exec("SET LOCAL row_security = off");
  for (const auto& table : tables) {
    std::vector<std::string> key = LoggedKey(tx, table.info.name);
    if (key.empty()) continue;  // not captured
    if (tx.exec_params("SELECT to_regclass($1)", sql::QualifiedName(schema, table.info.name))[0][0].is_null()) continue;
    out.push_back(ReadTableChanges(tx, schema, table, key, consume));
  }
  return out;
}

long long ConsumeCapturedChanges(pqxx::connection& target, const std::string& schema,
                                 const std::vector<SnapshotTable>& tables,
                                 const std::function<long long(const std::vector<TableChanges>&)>& apply) {
  pqxx::transaction<pqxx::isolation_level::repeatable_read> tx(target, "dbrefresh_catch_up");
  const long long applied = apply(ReadCapturedChanges(tx, schema, tables, /*consume=*/true));
  tx.commit();
  return applied;
}

void LockPreservedTables(pqxx::transaction_base& tx, const std::string& schema, const std::vector<std::string>& tables) {
  std::string list;
  for (const auto& t : tables) {
    if (tx.exec_params("SELECT to_regclass($1)", sql::QualifiedName(schema, t))[0][0].is_null()) continue;
    list += (list.empty() ? "" : ", ") + sql::QualifiedName(schema, t);
  }
  if (!list.empty()) tx.exec("LOCK TABLE " + list + " IN EXCLUSIVE MODE");
}

long long ApplyToSnapshot(SnapshotUpdater& snapshot, const std::vector<TableChanges>& changes) {
  long long rows = 0;
  for (const auto& t : changes) rows += snapshot.Apply(t.table, t.key, t.rows);
  snapshot.Commit();
  return rows;
}

}  // namespace dbrefresh
