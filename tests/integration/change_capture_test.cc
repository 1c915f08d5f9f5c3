// The change capture's catch-up against a live preprod (refresh/change_capture.h): what a read of
// the logs returns while preprod's application commits between the reads of two tables' logs.
#include <gtest/gtest.h>

#include <thread>

#include "catalog/catalog.h"
#include "refresh/change_capture.h"
#include "reliability_support.h"
#include "snapshot_restore_support.h"

namespace dbrefresh::testing {
namespace {

const std::vector<std::string> kPreserved = {"users", "user_role_assignments", "user_qualification_assignments"};

std::vector<SnapshotTable> PreservedTables(pqxx::connection& conn) {
  pqxx::read_transaction tx(conn);
  std::vector<SnapshotTable> tables;
  for (const auto& name : kPreserved) tables.push_back({*catalog::ReadTable(tx, "public", name), "rows_" + name, 0});
  return tables;
}

// The keys a read returned for one table.
std::set<std::string> KeysOf(const std::vector<TableChanges>& changes, const std::string& table) {
  std::set<std::string> keys;
  for (const auto& t : changes) {
    if (t.table != table) continue;
    for (const auto& row : t.rows) keys.insert(row.key.at(0).value_or(""));
  }
  return keys;
}

// A person is committed whole (user, role and qualification in one transaction) while the catch-up
// has read the users' log and waits for the roles' log. The catch-up must see the person whole or
// not at all: as a role and a qualification without their user, swap's restore-users (which reads
// the file between two catch-ups) sent them to the seed SQL, and the run exited 5.
TEST(ChangeCapture, ACatchUpWithoutALockReadsOneMomentOfTheTarget) {
  ScopedDatabase preprod(Cluster::kPreprod, "cc_preprod");
  pqxx::connection dbrefresh(preprod.url());
  InstallCapture(dbrefresh, "public", kPreserved, 10);
  const std::vector<SnapshotTable> tables = PreservedTables(dbrefresh);
  const std::string user = Scalar(preprod.url(), "SELECT md5('cc-user')::uuid::text");
  const std::string role = Scalar(preprod.url(), "SELECT md5('cc-role')::uuid::text");
  const std::string qual = Scalar(preprod.url(), "SELECT md5('cc-qual')::uuid::text");

  // The application's transaction: the person, and (as a slow writer would) the roles' log held.
  pqxx::connection application(preprod.url());
  pqxx::work writing(application);
  writing.exec("LOCK TABLE dbrefresh_capture.user_role_assignments IN ACCESS EXCLUSIVE MODE");
  writing.exec("INSERT INTO users (id, name, delius_username, probation_region_id, delius_staff_code, employment_grade) "
               "SELECT '" + user + "', 'Caught Whole', 'CAUGHT_WHOLE', id, 'CW1', 'PO' FROM probation_regions ORDER BY id LIMIT 1");
  writing.exec("INSERT INTO user_role_assignments (id, user_id, role) VALUES ('" + role + "', '" + user + "', 'CAS1_CAUGHT')");
  writing.exec("INSERT INTO user_qualification_assignments (id, user_id, qualification) VALUES ('" + qual + "', '" + user +
               "', 'CAUGHT_QUALIFICATION')");

  std::vector<TableChanges> first;
  std::string failed;
  std::thread catch_up([&] {
    try {
      ConsumeCapturedChanges(dbrefresh, "public", tables, [&](const std::vector<TableChanges>& changes) {
        first = changes;
        return 0LL;
      });
    } catch (const std::exception& e) {
      failed = e.what();
    }
  });
  // The catch-up has read the users' log and waits for the roles' log: then the person commits.
  const bool waiting = WaitUntil([&] {
    return Count(TestBed::Get().SuperUrl(Cluster::kPreprod, preprod.name()),
                 "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
                 "'dbrefresh_capture.user_role_assignments'::regclass") > 0;
  }, seconds(60));
  writing.commit();
  catch_up.join();
  ASSERT_TRUE(failed.empty()) << failed;
  ASSERT_TRUE(waiting) << "the catch-up never waited for the roles' log";

  const bool has_user = KeysOf(first, "users").count(user) > 0;
  EXPECT_EQ(KeysOf(first, "user_role_assignments").count(role) > 0, has_user)
      << "the role came " << (has_user ? "without" : "before") << " its user";
  EXPECT_EQ(KeysOf(first, "user_qualification_assignments").count(qual) > 0, has_user)
      << "the qualification came " << (has_user ? "without" : "before") << " its user";

  // What the first read left, the next one returns: the person whole.
  std::vector<TableChanges> next;
  ConsumeCapturedChanges(dbrefresh, "public", tables, [&](const std::vector<TableChanges>& changes) {
    next = changes;
    return 0LL;
  });
  EXPECT_EQ(KeysOf(first, "users").count(user) + KeysOf(next, "users").count(user), 1u);
  EXPECT_EQ(KeysOf(first, "user_role_assignments").count(role) + KeysOf(next, "user_role_assignments").count(role), 1u);
  EXPECT_EQ(KeysOf(first, "user_qualification_assignments").count(qual) +
                KeysOf(next, "user_qualification_assignments").count(qual), 1u);
}

}  // namespace
}  // namespace dbrefresh::testing
