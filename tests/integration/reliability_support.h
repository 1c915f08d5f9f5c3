// Helpers for the reliability tests: dbrefresh started in the background (to signal it mid-step),
// the pg_dump / pg_restore processes it left, a test bed of its own for server restarts, and an
// application busy on the target.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "refresh_support.h"

extern char** environ;

namespace dbrefresh::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls `done` every 10 ms until it holds or `timeout` passes; true when it held.
inline bool WaitUntil(const std::function<bool()>& done, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

// A program running in the background in a process group of its own (so that whatever it leaves
// behind can be ended with it), stdin from /dev/null, stdout and stderr in files read as they grow.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {})
      : out_(dir_.File("out")), err_(dir_.File("err")) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<std::string> env_strings = EnvironmentWith(env), args = argv;
    std::vector<char*> envp, argp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (auto& s : args) argp.push_back(s.data());
    argp.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, argp[0], &actions, &attr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~BackgroundProcess() {
    ::kill(-pid_, SIGKILL);  // the whole group: the program and anything it left running
    if (!reaped_) ::waitpid(pid_, nullptr, 0);
  }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string Out() const { return ReadBytes(out_); }
  std::string Err() const { return ReadBytes(err_); }
  void Signal(int signal_number) const { ::kill(pid_, signal_number); }
  // Ends every process of the group still running (a pod deleted), without reaping the program.
  void KillGroup() const { ::kill(-pid_, SIGKILL); }

  bool Exited() {
    if (reaped_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    Reaped(status);
    return true;
  }
  // The exit code (128 + signal number when a signal ended it), or -1 when still running after `timeout`.
  int Wait(milliseconds timeout) {
    WaitUntil([&] { return Exited(); }, timeout);
    return reaped_ ? code_ : -1;
  }
  // Polls stderr until `ready(stderr)` holds; false when the program ended first or `timeout` passed.
  bool WaitForErr(const std::function<bool(const std::string&)>& ready, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (ready(Err())) return true;
      if (Exited() || Clock::now() >= deadline) return ready(Err());
      std::this_thread::sleep_for(milliseconds(3));
    }
  }

 private:
  void Reaped(int status) {
    reaped_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  TempDir dir_;
  std::string out_, err_;
  pid_t pid_ = 0;
  bool reaped_ = false;
  int code_ = -1;
};

// The steps a refresh has started, from its text log ("step 3/9: snapshot"), complete lines only.
inline std::vector<std::string> StepsStarted(const std::string& err) {
  std::vector<std::string> steps;
  size_t start = 0;
  for (size_t end; (end = err.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = err.substr(start, end - start);
    auto colon = line.find(": ");
    if (line.rfind("step ", 0) == 0 && colon != std::string::npos) steps.push_back(line.substr(colon + 2));
  }
  return steps;
}

inline std::string CurrentStep(const std::string& err) {
  auto steps = StepsStarted(err);
  return steps.empty() ? "" : steps.back();
}

// A running process as /proc shows it.
struct ProcessInfo {
  pid_t pid = 0;
  pid_t parent = 0;
  std::string program;  // basename of argv[0]
  std::string command;  // argv joined by spaces
};

// Live (not zombie) processes whose program is one of `programs` and whose command line mentions `needle`.
inline std::vector<ProcessInfo> ProcessesOf(const std::set<std::string>& programs, const std::string& needle) {
  std::vector<ProcessInfo> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string raw = ReadBytes("/proc/" + name + "/cmdline");
    if (raw.empty()) continue;  // a zombie or a kernel thread
    std::vector<std::string> argv;
    for (size_t start = 0, end; start < raw.size(); start = end + 1) {
      end = raw.find('\0', start);
      if (end == std::string::npos) end = raw.size();
      argv.push_back(raw.substr(start, end - start));
    }
    const std::string program = std::filesystem::path(argv[0]).filename().string();
    if (!programs.count(program)) continue;
    ProcessInfo p;
    p.pid = std::stoi(name);
    p.program = program;
    for (const auto& a : argv) p.command += (p.command.empty() ? "" : " ") + a;
    if (!Contains(p.command, needle)) continue;
    const std::string stat = ReadBytes("/proc/" + name + "/stat");  // "pid (comm) S ppid ..."
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size() || stat[close + 2] == 'Z') continue;
    p.parent = std::stoi(stat.substr(close + 4));
    out.push_back(p);
  }
  return out;
}

inline std::vector<ProcessInfo> PgClientsOf(const std::string& needle) {
  return ProcessesOf({"pg_dump", "pg_restore"}, needle);
}

// The command a failed run's last log line names, after its last ": dbrefresh ", split into words
// (single quotes as MaskedCommandLine writes them), without "dbrefresh" itself.
inline std::vector<std::string> ResumeArguments(const std::string& last_line) {
  auto at = last_line.rfind(": dbrefresh ");
  if (at == std::string::npos) return {};
  const std::string command = last_line.substr(at + 12);
  std::vector<std::string> words;
  std::string word;
  bool quoted = false, in_word = false;
  for (size_t i = 0; i < command.size(); ++i) {
    const char c = command[i];
    if (quoted) {
      if (c == '\'') {
        quoted = false;
      } else {
        word += c;
      }
    } else if (c == '\'') {
      quoted = in_word = true;
    } else if (c == '\\' && i + 1 < command.size()) {
      word += command[++i];
      in_word = true;
    } else if (c == ' ') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// Sessions dbrefresh left on a database (its sessions set application_name = 'dbrefresh').
inline long long DbrefreshSessions(const std::string& super_url, const std::string& db) {
  return Count(super_url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dbrefresh' AND datname = '" +
                              db + "'");
}

inline long long AdvisoryLocks(const std::string& super_url, const std::string& db) {
  return Count(super_url,
               "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
               "(SELECT oid FROM pg_database WHERE datname = '" + db + "')");
}

// A throwaway pair of clusters of this test's own (scripts/testbed.sh), for tests that restart or
// stop a server: the shared clusters stay up for the tests running beside this one.
class OwnTestBed {
 public:
  OwnTestBed() : dir_(root_.path() + "/bed") {
    ::chmod(root_.path().c_str(), 0755);  // the postgres OS user must reach the clusters' directories
    auto started = RunProgram({std::string(DBREFRESH_SOURCE_DIR) + "/scripts/testbed.sh", "start", dir_});
    if (started.exit_code != 0) throw std::runtime_error("scripts/testbed.sh start failed: " + started.all());
    for (const auto& line : Lines(ReadBytes(dir_ + "/env"))) {
      if (line.rfind("export ", 0) != 0) continue;
      auto eq = line.find('=');
      std::string value = line.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '\'') value = value.substr(1, value.size() - 2);
      env_[line.substr(7, eq - 7)] = value;
    }
  }
  ~OwnTestBed() { RunProgram({std::string(DBREFRESH_SOURCE_DIR) + "/scripts/testbed.sh", "stop", dir_}); }
  OwnTestBed(const OwnTestBed&) = delete;
  OwnTestBed& operator=(const OwnTestBed&) = delete;

  std::string Env(const std::string& key) const { return env_.count(key) ? env_.at(key) : ""; }
  std::string Port(Cluster c) const { return Env(c == Cluster::kProd ? "DBREFRESH_TEST_PROD_PORT" : "DBREFRESH_TEST_PREPROD_PORT"); }
  std::string Url(Cluster c, const std::string& db) const {
    return "postgresql://" + Env("DBREFRESH_TEST_USER") + ":" + Env("DBREFRESH_TEST_PASSWORD") + "@127.0.0.1:" + Port(c) + "/" + db;
  }
  std::string SuperUrl(Cluster c, const std::string& db) const {
    return "postgresql://" + Env("DBREFRESH_TEST_SUPERUSER") + ":" + Env("DBREFRESH_TEST_SUPERPASSWORD") + "@127.0.0.1:" +
           Port(c) + "/" + db;
  }
  std::string FreshDatabase(Cluster c, const std::string& name) const {
    Query(SuperUrl(c, "postgres"), "CREATE DATABASE \"" + name + "\" TEMPLATE cas_template OWNER cas_admin");
    return name;
  }
  // pg_ctl ACTION (restart, stop, start) on one cluster, fast shutdown, waiting for it.
  CommandResult PgCtl(Cluster c, const std::string& action) const {
    const std::string data = Env(c == Cluster::kProd ? "DBREFRESH_TEST_PROD_DATA" : "DBREFRESH_TEST_PREPROD_DATA");
    std::vector<std::string> argv = {Env("DBREFRESH_TEST_PG_BIN") + "/pg_ctl", "-D", data, action, "-w", "-t", "30"};
    if (action != "start") argv.insert(argv.end(), {"-m", "fast"});
    if (action != "stop") argv.insert(argv.end(), {"-l", data + "/server.log"});
    if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
    return RunProgram(argv);
  }

 private:
  TempDir root_;
  std::string dir_;
  std::map<std::string, std::string> env_;
};

// An application busy on a database: sessions on loopback reading and updating users in a loop
// until Stop() or `duration`. One session keeps each transaction open for `hold` (an application
// holding locks); the other commits every few milliseconds. A session that is ended reconnects.
// The updates write each value over itself, so the rows' contents never change.
class BusyApplication {
 public:
  BusyApplication(std::string url, seconds duration, milliseconds hold)
      : url_(std::move(url)), deadline_(Clock::now() + duration) {
    // The long transactions update one person, the short ones the others: no waiting on each other.
    threads_.emplace_back([this, hold] { Work(hold, "delius_username = 'DELIUS_USER_0001'"); });
    threads_.emplace_back([this] { Work(milliseconds(0), "delius_username <> 'DELIUS_USER_0001'"); });
  }
  ~BusyApplication() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Waits until the sessions have run statements (so the load is really there).
  bool WaitUntilBusy(milliseconds timeout) const { return WaitUntil([&] { return statements_ >= 10; }, timeout); }
  long long transactions() const { return transactions_; }
  long long sessions_lost() const { return sessions_lost_; }

 private:
  bool Running() const { return !stop_ && Clock::now() < deadline_; }
  void Work(milliseconds hold, const std::string& whom) {
    while (Running()) {
      try {
        pqxx::connection conn(url_);
        pqxx::nontransaction(conn).exec("SET statement_timeout = '5s'");  // every wait stays bounded
        while (Running()) {
          pqxx::work tx(conn);
          const auto until = Clock::now() + hold;
          do {
            tx.exec("SELECT count(*), max(updated_at) FROM users");
            tx.exec("UPDATE users SET name = name WHERE id = (SELECT id FROM users WHERE " + whom +
                    " ORDER BY random() LIMIT 1)");
            tx.exec("SELECT count(*) FROM user_role_assignments r JOIN users u ON u.id = r.user_id");
            statements_ += 3;
            std::this_thread::sleep_for(milliseconds(20));
          } while (Running() && Clock::now() < until);
          tx.commit();
          ++transactions_;
        }
      } catch (const std::exception&) {
        ++sessions_lost_;  // ended by --terminate-connections, or the tables are being replaced
        std::this_thread::sleep_for(milliseconds(100));
      }
    }
  }
  std::string url_;
  Clock::time_point deadline_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> statements_{0}, transactions_{0}, sessions_lost_{0};
  std::vector<std::thread> threads_;
};

}  // namespace dbrefresh::testing
