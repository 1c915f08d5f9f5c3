// Helpers for the preflight and refresh integration tests: a prod/preprod pair of testdata copies,
// fake client-program directories, and set comparisons of live rows.
#pragma once

#include <sys/stat.h>

#include <set>
#include <string>
#include <vector>

#include "snapshot_restore_support.h"

namespace dbrefresh::testing {

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

// Relations and functions of public, to check that nothing changed.
inline std::set<std::string> ObjectNames(const std::string& url) {
  return Set(url,
             "SELECT c.relkind::text || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE n.nspname = 'public' UNION ALL SELECT 'f ' || proname FROM pg_proc p JOIN pg_namespace n "
             "ON n.oid = p.pronamespace WHERE n.nspname = 'public'");
}

}  // namespace dbrefresh::testing
