// Test bed access and process running for the integration tests (see testbed_support.h).
#include "testbed_support.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace dbrefresh::testing {
namespace {

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    throw std::runtime_error(std::string("integration tests need ") + name +
                             ": run them through scripts/test.sh, which starts the PostgreSQL test bed");
  }
  return v;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string UniqueSuffix() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "_" + std::to_string(++counter);
}

}  // namespace

TestBed::TestBed()
    : host_(RequireEnv("DBREFRESH_TEST_HOST")),
      user_(RequireEnv("DBREFRESH_TEST_USER")),
      password_(RequireEnv("DBREFRESH_TEST_PASSWORD")),
      super_user_(RequireEnv("DBREFRESH_TEST_SUPERUSER")),
      super_password_(RequireEnv("DBREFRESH_TEST_SUPERPASSWORD")),
      reader_(RequireEnv("DBREFRESH_TEST_READER")),
      reader_password_(RequireEnv("DBREFRESH_TEST_READER_PASSWORD")),
      template_(RequireEnv("DBREFRESH_TEST_TEMPLATE")),
      prod_port_(std::stoi(RequireEnv("DBREFRESH_TEST_PROD_PORT"))),
      preprod_port_(std::stoi(RequireEnv("DBREFRESH_TEST_PREPROD_PORT"))) {}

const TestBed& TestBed::Get() {
  static const TestBed bed;
  return bed;
}

std::string TestBed::Url(Cluster c, const std::string& db) const {
  return "postgresql://" + user_ + ":" + password_ + "@" + host_ + ":" + std::to_string(Port(c)) + "/" + db;
}

std::string TestBed::SuperUrl(Cluster c, const std::string& db) const {
  return "postgresql://" + super_user_ + ":" + super_password_ + "@" + host_ + ":" + std::to_string(Port(c)) + "/" + db;
}

std::string TestBed::ReaderUrl(Cluster c, const std::string& db) const {
  return "postgresql://" + reader_ + ":" + reader_password_ + "@" + host_ + ":" + std::to_string(Port(c)) + "/" + db;
}

std::string TestBed::FreshDatabase(Cluster c, const std::string& prefix) const {
  std::string name = prefix + "_" + UniqueSuffix();
  Query(SuperUrl(c, "postgres"), "CREATE DATABASE \"" + name + "\" TEMPLATE \"" + template_ + "\" OWNER \"" + user_ + "\"");
  return name;
}

std::string TestBed::EmptyDatabase(Cluster c, const std::string& prefix) const {
  std::string name = prefix + "_" + UniqueSuffix();
  Query(SuperUrl(c, "postgres"), "CREATE DATABASE \"" + name + "\" OWNER \"" + user_ + "\"");
  Query(SuperUrl(c, name), "ALTER SCHEMA public OWNER TO \"" + user_ + "\"");
  return name;
}

void TestBed::DropDatabase(Cluster c, const std::string& db) const {
  Query(SuperUrl(c, "postgres"), "DROP DATABASE IF EXISTS \"" + db + "\" WITH (FORCE)");
}

pqxx::result Query(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  return tx.exec(sql);
}

std::string Scalar(const std::string& url, const std::string& sql) {
  auto r = Query(url, sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

long long Count(const std::string& url, const std::string& sql) { return std::stoll(Scalar(url, sql)); }

std::vector<std::string> EnvironmentWith(const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e; ++e) {
    std::string s(*e);
    auto eq = s.find('=');
    if (eq != std::string::npos) merged[s.substr(0, eq)] = s.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> strings;
  for (const auto& [k, v] : merged) strings.push_back(k + "=" + v);
  return strings;
}

CommandResult RunProgram(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  TempDir dir;
  const std::string out_path = dir.File("out"), err_path = dir.File("err");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> env_strings = EnvironmentWith(env);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  CommandResult result;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data()) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    throw std::runtime_error("cannot start " + argv[0]);
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.peak_rss_kb = usage.ru_maxrss;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

CommandResult RunDbrefresh(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {DBREFRESH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, env);
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "dbrefresh-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace dbrefresh::testing
