// Helpers for the preflight and refresh integration tests: a prod/preprod pair of testdata copies,
// fake client-program directories, and set comparisons of live rows.
#pragma once

#include <sys/stat.h>

#include <set>
#include <string>
#include <vector>

#include "snapshot_restore_support.h"

namespace dbrefresh::testing {

// A trigger of the target's own on a preserved table (what it writes could be a table still
// restoring): the refresh restores the dump whole, then restore-users.
constexpr const char* kUsersTouchTrigger =
    "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := NEW.updated_at; "
    "RETURN NEW; END $$;"
    "CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();";

// A prod copy (the source) and a preprod copy (the target), dropped when the test ends.
class DatabasePair : public ::testing::Test {
 protected:
  DatabasePair() : prod_(Cluster::kProd, "rf_prod"), preprod_(Cluster::kPreprod, "rf_preprod") {}

  const ScopedDatabase& prod() const { return prod_; }
  const ScopedDatabase& preprod() const { return preprod_; }
  std::string Password() const { return TestBed::Get().password(); }

  // dbrefresh <command> with the connections in DBREFRESH_SOURCE_URL / DBREFRESH_TARGET_URL.
  CommandResult Run(const std::vector<std::string>& args) const {
    return RunDbrefresh(args, {{"DBREFRESH_SOURCE_URL", prod_.url()}, {"DBREFRESH_TARGET_URL", preprod_.url()}});
  }

  // No password in anything the user sees.
  void ExpectNoPassword(const std::string& text, const std::string& where) const {
    EXPECT_FALSE(Contains(text, Password())) << "password in " << where;
    EXPECT_FALSE(Contains(text, TestBed::Get().super_password())) << "superuser password in " << where;
  }

 private:
  ScopedDatabase prod_;
  ScopedDatabase preprod_;
};

// Writes an executable shell script (a stand-in pg_dump / pg_restore).
inline void WriteScript(const std::string& path, const std::string& body) {
  WriteText(path, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
}

// The PostgreSQL client programs of the test bed.
inline std::string RealPgBin() {
  std::string bin = ScopedDatabase::Env("DBREFRESH_TEST_PG_BIN");
  return bin.empty() ? "/usr/lib/postgresql/15/bin" : bin;
}

// The first column of every row, as a set.
inline std::set<std::string> Set(const std::string& url, const std::string& sql) {
  std::set<std::string> out;
  for (const auto& row : Query(url, sql)) out.insert(row[0].is_null() ? "<null>" : row[0].as<std::string>());
  return out;
}

// Elements of `wanted` missing from `have`.
inline std::vector<std::string> Missing(const std::set<std::string>& wanted, const std::set<std::string>& have) {
  std::vector<std::string> out;
  for (const auto& w : wanted) {
    if (!have.count(w)) out.push_back(w);
  }
  return out;
}

// Every prod row of the preserved tables, and every person of the untouched preprod copy
// `original_url` with their roles and qualifications (by username), are in the target.
inline void ExpectProdRowsAndEveryPreprodPerson(const std::string& prod_url, const std::string& original_url,
                                                const std::string& target_url) {
  for (const char* table : {"users", "user_role_assignments", "user_qualification_assignments"}) {
    const std::string ids = std::string("SELECT id::text FROM ") + table;
    EXPECT_TRUE(Missing(Set(prod_url, ids), Set(target_url, ids)).empty()) << "prod rows of " << table << " missing";
  }
  const std::string people = "SELECT delius_username FROM users";
  EXPECT_TRUE(Missing(Set(original_url, people), Set(target_url, people)).empty()) << "preprod people lost";
  const std::string roles = "SELECT u.delius_username || '/' || r.role FROM user_role_assignments r JOIN users u ON u.id = r.user_id";
  EXPECT_TRUE(Missing(Set(original_url, roles), Set(target_url, roles)).empty()) << "preprod roles lost";
  const std::string quals =
      "SELECT u.delius_username || '/' || q.qualification FROM user_qualification_assignments q JOIN users u ON u.id = q.user_id";
  EXPECT_TRUE(Missing(Set(original_url, quals), Set(target_url, quals)).empty()) << "preprod qualifications lost";
  EXPECT_EQ(CountUserTables(target_url), AfterCorrectRefresh());
  EXPECT_EQ(DuplicateRolePairs(target_url), 0);
}


// Relations and functions of public, to check that nothing changed.
inline std::set<std::string> ObjectNames(const std::string& url) {
  return Set(url,
             "SELECT c.relkind::text || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE n.nspname = 'public' UNION ALL SELECT 'f ' || proname FROM pg_proc p JOIN pg_namespace n "
             "ON n.oid = p.pronamespace WHERE n.nspname = 'public'");
}

}  // namespace dbrefresh::testing
