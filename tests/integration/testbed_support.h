// Access to the two throwaway PostgreSQL clusters that scripts/testbed.sh starts for the tests,
// and a way to run the real dbrefresh binary and capture what a user would see.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace dbrefresh::testing {

enum class Cluster { kProd, kPreprod };

// Reads DBREFRESH_TEST_* (set by scripts/testbed.sh); throws with a clear message when absent,
// so a test run without the clusters fails rather than silently skipping.
class TestBed {
 public:
  static const TestBed& Get();

  int Port(Cluster c) const { return c == Cluster::kProd ? prod_port_ : preprod_port_; }
  // postgresql://cas_admin:<password>@127.0.0.1:<port>/<db>
  std::string Url(Cluster c, const std::string& db) const;
  std::string SuperUrl(Cluster c, const std::string& db) const;
  std::string ReaderUrl(Cluster c, const std::string& db) const;
  const std::string& password() const { return password_; }
  const std::string& super_password() const { return super_password_; }
  const std::string& reader_password() const { return reader_password_; }

  // A new database copied from the cluster's testdata template (prod or preprod version),
  // owned by cas_admin, with a unique name starting with `prefix`.
  std::string FreshDatabase(Cluster c, const std::string& prefix) const;
  // An empty database owned by cas_admin.
  std::string EmptyDatabase(Cluster c, const std::string& prefix) const;
  void DropDatabase(Cluster c, const std::string& db) const;

 private:
  TestBed();
  std::string host_, user_, password_, super_user_, super_password_, reader_, reader_password_, template_;
  int prod_port_ = 0, preprod_port_ = 0;
};

// Runs one statement (or several separated by ';') and returns the last result.
pqxx::result Query(const std::string& url, const std::string& sql);
// The first column of the first row as text ("" for NULL or no row).
std::string Scalar(const std::string& url, const std::string& sql);
long long Count(const std::string& url, const std::string& sql);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  long peak_rss_kb = 0;  // the program's peak resident memory (wait4's ru_maxrss)
  std::string all() const { return out + err; }
};

// This process's environment with `env` added, as "KEY=value" strings for posix_spawn.
std::vector<std::string> EnvironmentWith(const std::map<std::string, std::string>& env);

// Runs build/dbrefresh with `args` (no shell). `env` is added to the environment.
CommandResult RunDbrefresh(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});
// Runs any program the same way (psql, scripts/current-job.sh, ...).
CommandResult RunProgram(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});

// A fresh temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace dbrefresh::testing
