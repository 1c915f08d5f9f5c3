// Connections against real servers: read-only source, exit 3 for bad ones, and no password anywhere.
#include <gtest/gtest.h>

#include "common/error.h"
#include "connect/pg_session.h"
#include "testbed_support.h"

namespace dbrefresh {
namespace {

using testing::Cluster;
using testing::RunDbrefresh;
using testing::TempDir;
using testing::TestBed;

TEST(SourceSession, AWriteThroughTheSourceSessionFails) {
  const auto& bed = TestBed::Get();
  std::string db = bed.FreshDatabase(Cluster::kProd, "readonly");
  PgSession source = OpenSession({bed.Url(Cluster::kProd, db), "--source"}, Access::kReadOnly);
  {
    pqxx::work tx(*source.conn);
    EXPECT_THROW(tx.exec("DELETE FROM user_role_assignments"), pqxx::sql_error);
  }
  EXPECT_EQ(testing::Count(bed.Url(Cluster::kProd, db), "SELECT count(*) FROM user_role_assignments"), 600);
  source.conn.reset();
  bed.DropDatabase(Cluster::kProd, db);
}

TEST(Connection, WrongPasswordIsExit3AndNeverPrinted) {
  const auto& bed = TestBed::Get();
  const std::string wrong = "Wr0ng-pw-'quote\\slash";
  TempDir dir;
  auto r = RunDbrefresh({"snapshot", "--out", dir.File("s.db")},
                        {{"DBREFRESH_TARGET_URL", "host=127.0.0.1 port=" + std::to_string(bed.Port(Cluster::kPreprod)) +
                                                      " dbname=cas_template user=cas_admin password='Wr0ng-pw-\\'quote\\\\slash'"}});
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_EQ(r.all().find("Wr0ng-pw"), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("password=****"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error: "), std::string::npos);
}

TEST(Connection, UnreachableServerIsExit3WithOneErrorLine) {
  TempDir dir;
  auto r = RunDbrefresh({"snapshot", "--target", "postgresql://u:Secr3t-x@127.0.0.1:1/db", "--out", dir.File("s.db")});
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_EQ(r.all().find("Secr3t-x"), std::string::npos) << r.all();
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
}

TEST(Connection, NoConnectionGivenIsExit2) {
  auto r = RunDbrefresh({"snapshot", "--out", "/tmp/never.db"}, {{"DBREFRESH_TARGET_URL", ""}, {"DB_HOST_PREPROD", ""}});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.err.find("no target connection"), std::string::npos) << r.err;
}

TEST(Connection, DropInJobVariablesReachTheServer) {
  const auto& bed = TestBed::Get();
  TempDir dir;
  auto r = RunDbrefresh({"snapshot", "--out", dir.File("s.db")},
                        {{"DB_HOST_PREPROD", "127.0.0.1"}, {"DB_PORT_PREPROD", std::to_string(bed.Port(Cluster::kPreprod))},
                         {"DB_NAME_PREPROD", "cas_template"}, {"DB_USER_PREPROD", "cas_reader"},
                         {"DB_PASS_PREPROD", bed.reader_password()}});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.all().find(bed.reader_password()), std::string::npos) << r.all();
  auto inspect = RunDbrefresh({"inspect", dir.File("s.db")});
  EXPECT_NE(inspect.out.find("cas_reader@127.0.0.1"), std::string::npos) << inspect.out;
}

}  // namespace
}  // namespace dbrefresh
