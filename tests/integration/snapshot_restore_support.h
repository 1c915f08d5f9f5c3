// Helpers shared by the snapshot, restore-users, seed-sql and hostile-value integration tests:
// databases dropped at the end of a test, psql runs, row digests, and the CLI's outputs parsed.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "testbed_support.h"

namespace dbrefresh::testing {

// A database made for one test (a copy of the cluster's testdata, or empty) and dropped when the
// test ends, whether or not its assertions passed.
class ScopedDatabase {
 public:
  enum class Content { kTestdata, kEmpty };
  ScopedDatabase(Cluster cluster, const std::string& prefix, Content content = Content::kTestdata)
      : cluster_(cluster),
        name_(content == Content::kTestdata ? TestBed::Get().FreshDatabase(cluster, prefix)
                                            : TestBed::Get().EmptyDatabase(cluster, prefix)) {}
  ~ScopedDatabase() {
    try {
      TestBed::Get().DropDatabase(cluster_, name_);
    } catch (...) {
    }
  }
  ScopedDatabase(const ScopedDatabase&) = delete;
  ScopedDatabase& operator=(const ScopedDatabase&) = delete;

  Cluster cluster() const { return cluster_; }
  const std::string& name() const { return name_; }
  int port() const { return TestBed::Get().Port(cluster_); }
  // As cas_admin, password inside (for dbrefresh --target and the test's own queries).
  std::string url() const { return TestBed::Get().Url(cluster_, name_); }
  // Keyword conninfo without the password, for psql and scripts (the password goes in PGPASSWORD).
  std::string conninfo() const {
    return "host=" + Env("DBREFRESH_TEST_HOST") + " port=" + std::to_string(port()) + " dbname=" + name_ +
           " user=" + Env("DBREFRESH_TEST_USER");
  }

  static std::string Env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
  }

 private:
  Cluster cluster_;
  std::string name_;
};

inline std::map<std::string, std::string> PasswordEnv() { return {{"PGPASSWORD", TestBed::Get().password()}}; }

// psql -X -q -v ON_ERROR_STOP=1 -f FILE against the database, password through the environment.
inline CommandResult PsqlFile(const ScopedDatabase& db, const std::string& file) {
  const std::string bin = ScopedDatabase::Env("DBREFRESH_TEST_PG_BIN");
  return RunProgram(
      {bin.empty() ? "psql" : bin + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.conninfo(), "-f", file},
      PasswordEnv());
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// Permission bits of a file (e.g. 0600), or -1 when it does not exist.
inline int FileMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

inline std::vector<std::string> DirectoryEntries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline std::string LastLine(const std::string& text) {
  auto lines = Lines(text);
  return lines.empty() ? "" : lines.back();
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// testdata/expected.json: the facts tests assert.
inline const nlohmann::json& Expected() {
  static const nlohmann::json expected =
      nlohmann::json::parse(ReadBytes(std::string(DBREFRESH_SOURCE_DIR) + "/testdata/expected.json"));
  return expected;
}

inline std::string ConfigFile(const TempDir& dir, const nlohmann::json& config,
                              const std::string& name = "config.json") {
  const std::string path = dir.File(name);
  WriteText(path, config.dump(2));
  return path;
}

// A config that preserves exactly these tables.
inline nlohmann::json PreserveConfig(const std::vector<std::string>& tables) {
  nlohmann::json preserve = nlohmann::json::array();
  for (const auto& t : tables) preserve.push_back({{"table", t}});
  return {{"preserve", preserve}};
}

struct UserTableCounts {
  long long users = 0, roles = 0, qualifications = 0;
  bool operator==(const UserTableCounts& o) const {
    return users == o.users && roles == o.roles && qualifications == o.qualifications;
  }
};
inline void PrintTo(const UserTableCounts& c, std::ostream* os) {
  *os << "{users " << c.users << ", user_role_assignments " << c.roles << ", user_qualification_assignments "
      << c.qualifications << "}";
}

inline UserTableCounts CountUserTables(const std::string& url) {
  auto r = Query(url,
                 "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM user_role_assignments), "
                 "(SELECT count(*) FROM user_qualification_assignments)");
  return {r[0][0].as<long long>(), r[0][1].as<long long>(), r[0][2].as<long long>()};
}

// The counts a correct refresh leaves (expected.json after_correct_refresh): 340 / 700 / 370.
inline UserTableCounts AfterCorrectRefresh() {
  const auto& e = Expected()["after_correct_refresh"];
  return {e["users"].get<long long>(), e["user_role_assignments"].get<long long>(),
          e["user_qualification_assignments"].get<long long>()};
}

// An md5 over every row's text, so "nothing changed" is checked on values, not just counts.
inline std::string TableDigest(const std::string& url, const std::string& quoted_table) {
  return Scalar(
      url,
      "SET TimeZone = 'UTC'; SELECT md5(coalesce(string_agg(whole_row::text, E'\\n' ORDER BY whole_row::text), "
      "'')) FROM " +
          quoted_table + " whole_row");
}

inline std::string UserTablesDigest(const std::string& url) {
  return TableDigest(url, "users") + TableDigest(url, "user_role_assignments") +
         TableDigest(url, "user_qualification_assignments");
}

inline long long DuplicateRolePairs(const std::string& url) {
  return Count(url,
               "SELECT count(*) FROM (SELECT user_id, role FROM user_role_assignments GROUP BY 1, 2 "
               "HAVING count(*) > 1) d");
}

inline long long UsersWithRole(const std::string& url, const std::string& role) {
  return Count(url, "SELECT count(DISTINCT user_id) FROM user_role_assignments WHERE role = '" + role + "'");
}

// Every row of a table as row_to_json text, ordered by `order_by`, in UTC: equal on both sides
// exactly when every value round-tripped.
inline std::vector<std::string> RowsAsJson(const std::string& url, const std::string& quoted_table,
                                           const std::string& order_by) {
  std::vector<std::string> rows;
  for (const auto& r : Query(url, "SET TimeZone = 'UTC'; SELECT row_to_json(whole_row)::text FROM " + quoted_table +
                                      " whole_row ORDER BY " + order_by)) {
    rows.push_back(r[0].as<std::string>());
  }
  return rows;
}

// One row of restore-users' human summary: {inserted, updated, matched, present, to seed}.
inline std::vector<long long> SummaryRow(const std::string& out, const std::string& table) {
  for (const auto& line : Lines(out)) {
    std::stringstream in(line);
    std::string first;
    in >> first;
    if (first != table) continue;
    std::vector<long long> numbers;
    for (long long n; in >> n;) numbers.push_back(n);
    return numbers;
  }
  return {};
}

// One table's counts from restore-users --json.
inline nlohmann::json OutcomeOf(const std::string& json_out, const std::string& table) {
  auto doc = nlohmann::json::parse(json_out, nullptr, false);
  if (doc.is_discarded()) return {};
  for (const auto& t : doc["tables"]) {
    if (t["table"] == table) return t;
  }
  return {};
}

}  // namespace dbrefresh::testing
