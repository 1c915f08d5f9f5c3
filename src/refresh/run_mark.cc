// The refresh mark and the liveness lock (see run_mark.h).
#include "refresh/run_mark.h"

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "common/error.h"
#include "common/log.h"
#include "common/sql_text.h"

namespace dbrefresh {
namespace {

// The advisory lock's first key: "dbrefresh" in a 32-bit number; the second is hashtext(dbname).
constexpr int kLivenessLockClass = 0x0db4e5;

ConnectionSpec MaintenanceOf(const ConnectionSpec& target) {
  return {WithDatabase(target.conninfo, "postgres"), target.origin + " (database postgres)"};
}

}  // namespace

nlohmann::json RunMark::ToJson() const {
  nlohmann::json j = {{"run_id", run_id}, {"snapshot", snapshot_file}, {"path", snapshot_path},
                      {"sha256", sha256}, {"strategy", strategy},      {"started_at", started_at}};
  if (!swapped_out.empty()) j["swapped_out"] = swapped_out;
  return j;
}

RunMark RunMark::FromJson(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    RunMark mark;
    mark.run_id = j.at("run_id").get<std::string>();
    mark.snapshot_file = j.at("snapshot").get<std::string>();
    mark.snapshot_path = j.value("path", "");
    mark.sha256 = j.value("sha256", "");
    mark.strategy = j.value("strategy", "");
    mark.started_at = j.value("started_at", "");
    mark.swapped_out = j.value("swapped_out", std::vector<std::string>{});
    if (mark.run_id.empty() || mark.snapshot_file.empty()) throw std::runtime_error("empty run id or snapshot");
    return mark;
  } catch (const std::exception&) {
    throw Failure(std::string("the target's table ") + kRunMarkSchema + ".refresh_mark holds no dbrefresh mark; "
                  "check it, then drop it");
  }
}

namespace {

const std::string kMarkTable = std::string(kRunMarkSchema) + ".refresh_mark";

}  // namespace

std::optional<RunMark> ReadRunMark(pqxx::connection& conn) {
  try {
    pqxx::nontransaction tx(conn);
    if (tx.exec_params("SELECT to_regclass($1)", kMarkTable)[0][0].is_null()) return std::nullopt;
    auto rows = tx.exec("SELECT mark FROM " + sql::QualifiedName(kRunMarkSchema, "refresh_mark"));
    if (rows.empty()) return std::nullopt;
    return RunMark::FromJson(rows[0][0].as<std::string>());
  } catch (const Error&) {
    throw;
  } catch (...) {
    RethrowDatabaseError("reading the refresh mark of the target");
  }
}

void WriteRunMark(pqxx::connection& conn, const RunMark& mark) {
  const std::string table = sql::QualifiedName(kRunMarkSchema, "refresh_mark");
  try {
    pqxx::work tx(conn);
    tx.exec(std::string("CREATE SCHEMA IF NOT EXISTS ") + sql::QuoteIdent(kRunMarkSchema));
    tx.exec("CREATE TABLE IF NOT EXISTS " + table + " (mark text NOT NULL)");
    tx.exec("DELETE FROM " + table);
    tx.exec_params("INSERT INTO " + table + " (mark) VALUES ($1)", mark.ToJson().dump());
    tx.commit();
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "42501") {
      throw BlockedError("cannot mark the target database as being refreshed: its user may not create the schema " +
                         std::string(kRunMarkSchema) + " in it (the owner of the database can), and a killed run is "
                         "found again by that mark; nothing was changed");
    }
    RethrowDatabaseError("marking the target database as being refreshed");
  } catch (...) {
    RethrowDatabaseError("marking the target database as being refreshed");
  }
}

void ClearRunMark(pqxx::connection& conn) {
  try {
    pqxx::work tx(conn);
    tx.exec("DROP TABLE IF EXISTS " + sql::QualifiedName(kRunMarkSchema, "refresh_mark"));
    // The schema goes too unless someone put something else in it.
    tx.exec("DO $$BEGIN DROP SCHEMA IF EXISTS " + sql::QuoteIdent(kRunMarkSchema) +
            "; EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END$$");
    tx.commit();
  } catch (...) {
    RethrowDatabaseError("clearing the refresh mark of the target");
  }
}

std::string Sha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure("cannot read " + path + " to check its sha256");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw Failure("cannot read " + path + " to check its sha256");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::string hex;
  char two[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(two, sizeof two, "%02x", digest[i]);
    hex += two;
  }
  return hex;
}

namespace {

// `postgres`, else `template1` (a server without a postgres database, or a user without CONNECT on it).
PgSession OpenMaintenance(const ConnectionSpec& target) {
  try {
    return OpenSession(MaintenanceOf(target), Access::kReadWrite);
  } catch (const Error& first) {
    try {
      return OpenSession({WithDatabase(target.conninfo, "template1"), target.origin + " (database template1)"},
                         Access::kReadWrite);
    } catch (const Error&) {
      throw first;
    }
  }
}

}  // namespace

RunLiveness::RunLiveness(const ConnectionSpec& target, const std::string& dbname) : session_(OpenMaintenance(target)) {
  bool got = false;
  try {
    pqxx::nontransaction tx(*session_.conn);
    got = tx.exec_params("SELECT pg_try_advisory_lock($1, hashtext($2))", kLivenessLockClass, dbname)[0][0].as<bool>();
  } catch (...) {
    RethrowDatabaseError("taking the run lock for " + dbname + " on " + session_.masked);
  }
  if (!got) {
    throw BlockedError("another dbrefresh run is refreshing the database " + dbname +
                       " right now (it holds the run lock on the server); nothing was changed. Wait for it to end");
  }
}

std::string DatabaseNameOf(const ConnectionSpec& spec) {
  auto keywords = ParseConninfo(spec.conninfo);
  auto it = keywords.find("dbname");
  return it == keywords.end() ? "" : it->second;
}

}  // namespace dbrefresh
