// Creating, filling and renaming the swap database (see swap_database.h).
#include "refresh/swap_database.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "common/sql_text.h"
#include "refresh/target_sessions.h"

namespace dbrefresh {
namespace {

constexpr size_t kMaxIdentifierBytes = 63;
constexpr int kRenameAttempts = 3;

ConnectionSpec Maintenance(const ConnectionSpec& target) {
  return {WithDatabase(target.conninfo, "postgres"), target.origin + " (database postgres)"};
}

void Exec(PgSession& session, const std::string& statement, const std::string& context) {
  try {
    pqxx::nontransaction tx(*session.conn);
    tx.exec(statement);
  } catch (...) {
    RethrowDatabaseError(context);
  }
}

// Owner, grants and settings of the target as statements for `fresh`.
std::vector<std::string> SettingsStatements(pqxx::transaction_base& tx, const SwapNames& names) {
  const std::string fresh = sql::QuoteIdent(names.fresh);
  std::vector<std::string> out;
  auto owner = tx.exec_params("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", names.target);
  if (!owner.empty()) out.push_back("ALTER DATABASE " + fresh + " OWNER TO " + sql::QuoteIdent(owner[0][0].as<std::string>()));
  for (const auto& row : tx.exec_params(
           "SELECT CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type "
           "FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1 AND a.grantee <> d.datdba",
           names.target)) {
    const std::string grantee = row[0].as<std::string>();
    out.push_back("GRANT " + row[1].as<std::string>() + " ON DATABASE " + fresh + " TO " +
                  (grantee.empty() ? "PUBLIC" : sql::QuoteIdent(grantee)));
  }
  for (const auto& row : tx.exec_params(
           "SELECT split_part(c, '=', 1), substr(c, strpos(c, '=') + 1) FROM pg_db_role_setting s "
           "JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c WHERE d.datname = $1 AND s.setrole = 0",
           names.target)) {
    out.push_back("ALTER DATABASE " + fresh + " SET " + sql::QuoteIdent(row[0].as<std::string>()) + " TO " +
                  sql::QuoteLiteral(row[1].as<std::string>()));
  }
  return out;
}

bool InUse(const pqxx::sql_error& e) { return e.sqlstate() == "55006" || e.sqlstate() == "55P03"; }

}  // namespace

SwapNames PlanSwapNames(const std::string& target_db, const std::string& timestamp) {
  std::string digits;
  for (char c : timestamp) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  }
  SwapNames names{target_db, target_db + "_dbrefresh_new", target_db + "_before_" + digits};
  for (const auto& name : {names.fresh, names.before}) {
    if (name.size() > kMaxIdentifierBytes) {
      throw UsageError("strategy swap: the database name " + name + " would exceed PostgreSQL's 63 bytes; use "
                       "--strategy schema for a target named " + target_db);
    }
  }
  return names;
}

void RequireCreatedb(PgSession& target) {
  bool allowed = false;
  try {
    pqxx::read_transaction tx(*target.conn);
    allowed = tx.exec("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")[0][0].as<bool>();
  } catch (...) {
    RethrowDatabaseError("checking CREATEDB on " + target.masked);
  }
  if (!allowed) throw BlockedError("strategy swap needs CREATEDB for the target's user (" + target.masked + ")");
}

ConnectionSpec CreateFreshDatabase(const ConnectionSpec& target, const SwapNames& names) {
  PgSession maintenance = OpenSession(Maintenance(target), Access::kReadWrite);
  std::string encoding, collate, ctype;
  try {
    pqxx::read_transaction tx(*maintenance.conn);
    auto row = tx.exec_params("SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = $1",
                              names.target)[0];
    encoding = row[0].as<std::string>();
    collate = row[1].as<std::string>();
    ctype = row[2].as<std::string>();
  } catch (...) {
    RethrowDatabaseError("reading the target database's encoding");
  }
  const std::string fresh = sql::QuoteIdent(names.fresh);
  // WITH (FORCE): a killed run's pg_restore may still have sessions there (a CREATE INDEX, say).
  Exec(maintenance, "DROP DATABASE IF EXISTS " + fresh + " WITH (FORCE)", "dropping the leftover database " + names.fresh);
  Exec(maintenance, "CREATE DATABASE " + fresh + " TEMPLATE template0 ENCODING " + sql::QuoteLiteral(encoding) +
                        " LC_COLLATE " + sql::QuoteLiteral(collate) + " LC_CTYPE " + sql::QuoteLiteral(ctype),
       "creating the database " + names.fresh + " (strategy swap needs CREATEDB)");
  log::Info("created the database to restore into", {{"database", names.fresh}});
  return {WithDatabase(target.conninfo, names.fresh), target.origin + " (database " + names.fresh + ")"};
}

std::vector<std::string> CopyDatabaseSettings(const ConnectionSpec& target, const SwapNames& names) {
  PgSession maintenance = OpenSession(Maintenance(target), Access::kReadWrite);
  std::vector<std::string> statements, warnings;
  try {
    pqxx::read_transaction tx(*maintenance.conn);
    statements = SettingsStatements(tx, names);
  } catch (...) {
    RethrowDatabaseError("reading the target database's owner, grants and settings");
  }
  for (const auto& statement : statements) {
    try {
      pqxx::nontransaction tx(*maintenance.conn);
      tx.exec(statement);
    } catch (const pqxx::sql_error& e) {
      warnings.push_back("could not copy to " + names.fresh + ": " + statement);
      log::Warn(warnings.back(), {{"reason", std::string(e.what()).substr(0, std::string(e.what()).find('\n'))}});
    }
  }
  return warnings;
}

void RenameIntoPlace(const ConnectionSpec& target, const SwapNames& names, const Config& config) {
  PgSession maintenance = OpenSession(Maintenance(target), Access::kReadWrite);
  for (int attempt = 1;; ++attempt) {
    if (config.terminate_connections) TerminateOtherSessions(*maintenance.conn, names.target);
    try {
      pqxx::work tx(*maintenance.conn);
      tx.exec("SET LOCAL lock_timeout = '" + std::to_string(config.lock_timeout_seconds) + "s'");
      tx.exec("ALTER DATABASE " + sql::QuoteIdent(names.target) + " RENAME TO " + sql::QuoteIdent(names.before));
      tx.exec("ALTER DATABASE " + sql::QuoteIdent(names.fresh) + " RENAME TO " + sql::QuoteIdent(names.target));
      tx.commit();
      log::Info("swapped the databases", {{"refreshed", names.target}, {"old_kept_as", names.before}});
      return;
    } catch (const pqxx::sql_error& e) {
      if (!InUse(e) || attempt >= kRenameAttempts) {
        LogLockHolders(*maintenance.conn, names.target);
        RethrowDatabaseError("renaming " + names.fresh + " into place (the refreshed database is ready as " + names.fresh +
                             "; other sessions on " + names.target + " prevent the rename: end them, or re-run with "
                             "--terminate-connections)");
      }
      log::Warn("the target is in use by other sessions; retrying the rename", {{"attempt", attempt}});
    }
    std::this_thread::sleep_for(std::chrono::seconds(config.lock_timeout_seconds));
  }
}

void DropFreshDatabase(const ConnectionSpec& target, const SwapNames& names) {
  try {
    PgSession maintenance = OpenSession(Maintenance(target), Access::kReadWrite);
    pqxx::nontransaction tx(*maintenance.conn);
    tx.exec("DROP DATABASE IF EXISTS " + sql::QuoteIdent(names.fresh) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    log::Warn("could not drop the unfinished database " + names.fresh + ": " + e.what());
  }
}

namespace {

bool AllDigits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// The time part of a before name, as 14 digits, for ordering both forms together.
std::string BeforeTime(const std::string& target_db, const std::string& name) {
  std::string time = name.substr(target_db.size() + 8);
  if (time.size() == 16) time = time.substr(0, 8) + time.substr(9, 6);
  return time;
}

}  // namespace

bool IsBeforeDatabaseName(const std::string& target_db, const std::string& name) {
  const std::string prefix = target_db + "_before_";
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string time = name.substr(prefix.size());
  if (time.size() == 14) return AllDigits(time);
  return time.size() == 16 && time[8] == 'T' && time[15] == 'Z' && AllDigits(time.substr(0, 8)) &&
         AllDigits(time.substr(9, 6));
}

std::vector<std::string> PruneBeforeDatabases(const ConnectionSpec& target, const SwapNames& names, int keep,
                                              const std::vector<std::string>& also_kept) {
  PgSession maintenance = OpenSession(Maintenance(target), Access::kReadWrite);
  std::vector<std::string> found;
  try {
    pqxx::read_transaction tx(*maintenance.conn);
    for (const auto& row : tx.exec("SELECT datname FROM pg_database")) {
      const std::string name = row[0].as<std::string>();
      if (IsBeforeDatabaseName(names.target, name)) found.push_back(name);
    }
  } catch (...) {
    RethrowDatabaseError("listing the databases earlier swaps kept");
  }
  std::sort(found.begin(), found.end(), [&](const std::string& a, const std::string& b) {
    return BeforeTime(names.target, a) > BeforeTime(names.target, b);  // newest first
  });
  std::vector<std::string> dropped;
  int kept = 0;
  for (const auto& name : found) {
    if (name != names.before && std::find(also_kept.begin(), also_kept.end(), name) != also_kept.end()) continue;
    if (name == names.before || kept < keep) {  // the one just made always stays, and counts
      ++kept;
      continue;
    }
    try {
      pqxx::nontransaction tx(*maintenance.conn);
      tx.exec("DROP DATABASE " + sql::QuoteIdent(name));
      log::Info("dropped the database an earlier swap kept (--keep-before-databases)", {{"database", name}});
      dropped.push_back(name);
    } catch (const std::exception& e) {
      log::Warn("could not drop the database an earlier swap kept: " + name,
                {{"reason", std::string(e.what()).substr(0, std::string(e.what()).find('\n'))}});
    }
  }
  return dropped;
}

void SetAllowConnections(pqxx::connection& maintenance, const std::string& dbname, bool allow) {
  try {
    pqxx::nontransaction tx(maintenance);
    tx.exec("ALTER DATABASE " + sql::QuoteIdent(dbname) + " ALLOW_CONNECTIONS " + (allow ? "true" : "false"));
  } catch (...) {
    RethrowDatabaseError(std::string(allow ? "allowing" : "refusing") + " new connections to " + dbname);
  }
}

bool LeftClosedByAKilledSwap(pqxx::connection& maintenance, const std::string& dbname) {
  try {
    pqxx::nontransaction tx(maintenance);
    auto rows = tx.exec_params(
        "SELECT NOT d.datallowconn AND EXISTS (SELECT 1 FROM pg_database n WHERE n.datname = $2) "
        "FROM pg_database d WHERE d.datname = $1",
        dbname, PlanSwapNames(dbname, "").fresh);
    return !rows.empty() && rows[0][0].as<bool>();
  } catch (const Error&) {
    return false;  // a name too long for swap was never swapped
  } catch (...) {
    RethrowDatabaseError("reading whether " + dbname + " accepts connections");
  }
}

int EndOtherSessions(pqxx::connection& own, const std::string& dbname, const Config& config) {
  const int ended = config.terminate_connections ? TerminateOtherSessions(own, dbname) : 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.lock_timeout_seconds);
  for (;;) {
    auto others = ListOtherSessions(own, dbname);
    if (others.empty()) return ended;
    if (std::chrono::steady_clock::now() >= deadline) {
      LogLockHolders(own, dbname);
      throw Failure(std::to_string(others.size()) + " other session(s) stayed on " + dbname + " for " +
                    std::to_string(config.lock_timeout_seconds) + " s (listed above); the swap needs it to itself. "
                    "Stop them, or re-run with --terminate-connections");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace dbrefresh
