// Helpers for the tests of a live preprod and a killed refresh (issue 13): client programs slowed
// down to widen a moment, the refresh mark as a user sees it, the server sessions a killed process
// group left, what a snapshot file holds, and an application writing to preprod and logging every
// write that committed.
#pragma once

#include <dirent.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reliability_support.h"

namespace dbrefresh::testing {

// A --pg-bin directory of the real client programs behind shell wrappers: pg_dump of the source
// (the directory-format dump) waits `dump_wait` s before it starts; each pg_restore that restores
// (not --list / --version) waits `restore_before` s before it starts and `restore_after` s after it
// has finished, so that the target stays a while in the state it leaves.
inline std::string SlowPgBin(const TempDir& dir, double dump_wait, double restore_before, double restore_after) {
  const std::string real = RealPgBin();
  WriteScript(dir.File("pg_dump"), "case \"$*\" in *--format=directory*) sleep " + std::to_string(dump_wait) +
                                       ";; esac\nexec '" + real + "/pg_dump' \"$@\"\n");
  WriteScript(dir.File("pg_restore"), "case \"$*\" in *--list*|*--version*) exec '" + real + "/pg_restore' \"$@\";; esac\n"
                                      "sleep " + std::to_string(restore_before) + "\n'" + real + "/pg_restore' \"$@\"\n"
                                      "rc=$?\nsleep " + std::to_string(restore_after) + "\nexit $rc\n");
  return dir.path();
}

// The refresh mark on `db` ("" when there is none): the row of dbrefresh.refresh_mark in it.
inline std::string RefreshMark(Cluster cluster, const std::string& db) {
  const std::string url = TestBed::Get().SuperUrl(cluster, db);
  if (Scalar(url, "SELECT to_regclass('dbrefresh.refresh_mark') IS NOT NULL") != "t") return "";
  return Scalar(url, "SELECT mark FROM dbrefresh.refresh_mark");
}

// The local TCP ports of every socket that the processes of group `pgid` have open: their
// connections to the servers, to find the sessions they leave behind when killed.
inline std::set<int> LocalPortsOfGroup(pid_t pgid) {
  std::set<std::string> inodes;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = ReadBytes("/proc/" + pid + "/stat");  // "pid (comm) S ppid pgrp ..."
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    long ppid = 0, pgrp = 0;
    fields >> state >> ppid >> pgrp;
    if (pgrp != pgid) continue;
    std::error_code ec;
    for (std::filesystem::directory_iterator fd("/proc/" + pid + "/fd", ec), end; !ec && fd != end; fd.increment(ec)) {
      std::error_code link_ec;
      const std::string target = std::filesystem::read_symlink(fd->path(), link_ec).string();
      if (!link_ec && target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
    }
  }
  std::set<int> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    auto lines = Lines(ReadBytes(table));
    for (size_t i = 1; i < lines.size(); ++i) {
      std::istringstream in(lines[i]);
      std::string slot, local, remote, st, queues, timer, retransmits, uid, timeout, inode;
      in >> slot >> local >> remote >> st >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      if (inodes.count(inode)) ports.insert(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16));
    }
  }
  return ports;
}

// Sessions on both clusters whose client is one of `ports` and that began before `before` (a
// server timestamp): those of a killed process group, not newer ones that reuse a port.
inline long long SessionsFrom(const std::set<int>& ports, const std::string& before) {
  if (ports.empty()) return 0;
  std::string list;
  for (int p : ports) list += (list.empty() ? "" : ",") + std::to_string(p);
  long long n = 0;
  for (Cluster c : {Cluster::kProd, Cluster::kPreprod}) {
    n += Count(TestBed::Get().SuperUrl(c, "postgres"), "SELECT count(*) FROM pg_stat_activity WHERE client_port IN (" +
                                                           list + ") AND backend_start <= '" + before + "'");
  }
  return n;
}

// One value of a snapshot file, read with SQLite (as a person with sqlite3 would); "" on any error.
inline std::string SnapshotScalar(const std::string& file, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      if (text) out = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

// An application using preprod while a refresh runs: one session of its own (reconnecting after
// any error) commits a short transaction every ~30 ms, in turn: a new person with a role and a
// qualification (as at their first login), a role granted to a preprod-only person, a role of a
// preprod-only person revoked, and a preprod-only person's telephone number edited. Every write
// that committed and changed a row is logged; a commit whose outcome is unknown (the connection
// went during COMMIT) is only noted. Bounded by Stop() or `limit`.
class LiveApplication {
 public:
  struct Log {
    std::map<std::string, std::string> people;         // user id -> username, inserted
    std::map<std::string, std::string> roles_added;    // role row id -> "username/role" (a new person's, or granted)
    std::map<std::string, std::string> quals_added;    // qualification row id -> "username/qualification"
    std::map<std::string, std::string> roles_revoked;  // role row id -> "username/role"
    std::map<std::string, std::set<std::string>> phones;  // username -> its latest committed value (plus any in doubt after it)
    long long inserts = 0, grants = 0, revokes = 0, updates = 0, in_doubt = 0, failed = 0, no_row = 0;
    long long committed() const { return inserts + grants + revokes + updates; }
  };

  LiveApplication(std::string url, std::string tag, std::vector<std::string> preprod_only, std::chrono::seconds limit)
      : url_(std::move(url)), tag_(std::move(tag)), preprod_only_(std::move(preprod_only)),
        deadline_(Clock::now() + limit), thread_([this] { Work(); }) {}
  ~LiveApplication() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long long committed() const { return committed_; }
  bool WaitForCommits(long long n, milliseconds timeout) const {
    return WaitUntil([&] { return committed_ >= n; }, timeout);
  }
  // Copy of the log (call after Stop() for the final one).
  Log log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }

 private:
  bool Running() const { return !stop_ && Clock::now() < deadline_; }
  std::string Person(long n) const { return preprod_only_[static_cast<size_t>(n) % preprod_only_.size()]; }
  std::string Id(const std::string& what, long n) const { return "md5('" + tag_ + "-" + what + "-" + std::to_string(n) + "')::uuid"; }

  void Work() {
    long n = 0;
    while (Running()) {
      try {
        pqxx::connection conn(url_);
        pqxx::nontransaction(conn).exec("SET statement_timeout = '5s'; SET application_name = 'live_application'");
        while (Running()) {
          WriteOnce(conn, n++);
          std::this_thread::sleep_for(milliseconds(30));
        }
      } catch (const std::exception&) {
        // Ended by --terminate-connections, connections not allowed, the tables being replaced.
        std::lock_guard<std::mutex> lock(mutex_);
        ++log_.failed;
      }
      if (Running()) std::this_thread::sleep_for(milliseconds(30));
    }
  }

  void WriteOnce(pqxx::connection& conn, long n) {
    switch (n % 4) {
      case 0: InsertPerson(conn, n); break;
      case 1: GrantRole(conn, n); break;
      case 2: RevokeRole(conn, n); break;
      default: EditTelephone(conn, n); break;
    }
  }

  // Commits `tx`; true when it committed, false when its outcome is unknown. Other errors propagate.
  template <typename Tx>
  bool Commit(Tx& tx) {
    try {
      tx.commit();
      return true;
    } catch (const pqxx::in_doubt_error&) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++log_.in_doubt;
      return false;
    }
  }

  void InsertPerson(pqxx::connection& conn, long n) {
    const std::string username = "LIVE_" + tag_ + "_" + std::to_string(n);
    pqxx::work tx(conn);
    // The service inserts the columns its schema has: preprod's has employment_grade NOT NULL.
    const bool grade = tx.exec("SELECT 1 FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = "
                               "'employment_grade' AND NOT attisdropped").size() == 1;
    auto user = tx.exec("INSERT INTO users (id, name, delius_username, probation_region_id, delius_staff_code" +
                        std::string(grade ? ", employment_grade" : "") + ") SELECT " + Id("user", n) + ", 'Live Person " +
                        std::to_string(n) + "', '" + username + "', id, 'LIVE" + std::to_string(n) + "'" +
                        (grade ? ", 'PO'" : "") + " FROM probation_regions ORDER BY id LIMIT 1 RETURNING id::text");
    if (user.size() != 1) return;  // no regions yet (the target half-restored)
    const std::string id = user[0][0].as<std::string>();
    auto role = tx.exec("INSERT INTO user_role_assignments (id, user_id, role) VALUES (" + Id("role", n) + ", '" + id +
                        "', 'CAS1_LIVE_ROLE') RETURNING id::text");
    auto qual = tx.exec("INSERT INTO user_qualification_assignments (id, user_id, qualification) VALUES (" +
                        Id("qual", n) + ", '" + id + "', 'LIVE_QUALIFICATION') RETURNING id::text");
    if (!Commit(tx)) return;
    std::lock_guard<std::mutex> lock(mutex_);
    log_.people[id] = username;
    log_.roles_added[role[0][0].as<std::string>()] = username + "/CAS1_LIVE_ROLE";
    log_.quals_added[qual[0][0].as<std::string>()] = username + "/LIVE_QUALIFICATION";
    ++log_.inserts;
    ++committed_;
  }

  void GrantRole(pqxx::connection& conn, long n) {
    const std::string person = Person(n), role = "LIVE_GRANT_" + std::to_string(n);
    pqxx::work tx(conn);
    auto r = tx.exec("INSERT INTO user_role_assignments (id, user_id, role) SELECT " + Id("grant", n) + ", id, '" + role +
                     "' FROM users WHERE delius_username = " + tx.quote(person) + " RETURNING id::text");
    if (r.size() != 1) return Nothing();
    if (!Commit(tx)) return;
    std::lock_guard<std::mutex> lock(mutex_);
    log_.roles_added[r[0][0].as<std::string>()] = person + "/" + role;
    ++log_.grants;
    ++committed_;
  }

  void RevokeRole(pqxx::connection& conn, long n) {
    const std::string person = Person(n / 4 + 7);
    pqxx::work tx(conn);
    auto r = tx.exec("DELETE FROM user_role_assignments WHERE id = (SELECT r.id FROM user_role_assignments r JOIN users u "
                     "ON u.id = r.user_id WHERE u.delius_username = " + tx.quote(person) +
                     " ORDER BY r.id LIMIT 1) RETURNING id::text, role");
    if (r.size() != 1) return Nothing();
    if (!Commit(tx)) return;
    std::lock_guard<std::mutex> lock(mutex_);
    log_.roles_revoked[r[0][0].as<std::string>()] = person + "/" + r[0][1].as<std::string>();
    ++log_.revokes;
    ++committed_;
  }

  void EditTelephone(pqxx::connection& conn, long n) {
    const std::string person = Person(n / 4 + 3), value = "07700 " + std::to_string(900000 + n);
    pqxx::work tx(conn);
    auto r = tx.exec("UPDATE users SET telephone_number = '" + value + "' WHERE delius_username = " + tx.quote(person));
    if (r.affected_rows() != 1) return Nothing();
    bool committed = false;
    try {
      tx.commit();
      committed = true;
    } catch (const pqxx::in_doubt_error&) {
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (committed) {
      log_.phones[person] = {value};
      ++log_.updates;
      ++committed_;
    } else {
      log_.phones[person].insert(value);  // may have committed: either value will do
      ++log_.in_doubt;
    }
  }

  void Nothing() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++log_.no_row;
  }

  std::string url_, tag_;
  std::vector<std::string> preprod_only_;
  Clock::time_point deadline_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> committed_{0};
  mutable std::mutex mutex_;
  Log log_;
  std::thread thread_;  // last: starts once everything above is ready
};

}  // namespace dbrefresh::testing
