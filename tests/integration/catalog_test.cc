// Catalog introspection against the real testdata schemas.
#include "catalog/catalog.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "connect/pg_session.h"
#include "testbed_support.h"

namespace dbrefresh {
namespace {

using testing::Cluster;
using testing::TestBed;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = TestBed::Get().FreshDatabase(Cluster::kPreprod, "catalog"); }
  void TearDown() override { TestBed::Get().DropDatabase(Cluster::kPreprod, db_); }
  std::string db_;
};

TEST_F(CatalogTest, ReadsColumnsAsPostgresReportsThem) {
  pqxx::connection conn(TestBed::Get().Url(Cluster::kPreprod, db_));
  pqxx::read_transaction tx(conn);
  auto users = catalog::ReadTable(tx, "public", "users");
  ASSERT_TRUE(users);
  const ColumnInfo* email = users->FindColumn("email");
  ASSERT_NE(email, nullptr);
  EXPECT_EQ(email->type, "text");
  EXPECT_FALSE(email->not_null);
  EXPECT_EQ(email->default_expr.value_or(""), "'unknown@digital.justice.gov.uk'::text");
  const ColumnInfo* grade = users->FindColumn("employment_grade");
  ASSERT_NE(grade, nullptr);
  EXPECT_TRUE(grade->not_null);
  EXPECT_FALSE(grade->default_expr);
  EXPECT_EQ(users->FindColumn("is_active")->default_expr.value_or(""), "true");
  EXPECT_EQ(users->columns.front().name, "id");
  EXPECT_EQ(users->columns.front().position, 1);
}

TEST_F(CatalogTest, ReadsPrimaryUniqueAndForeignKeys) {
  pqxx::connection conn(TestBed::Get().Url(Cluster::kPreprod, db_));
  pqxx::read_transaction tx(conn);
  auto users = catalog::ReadTable(tx, "public", "users");
  ASSERT_TRUE(users);
  EXPECT_EQ(users->PrimaryKey()->columns, std::vector<std::string>{"id"});
  ASSERT_EQ(users->UniqueKeys().size(), 1u);
  EXPECT_EQ(users->UniqueKeys()[0]->columns, std::vector<std::string>{"delius_username"});
  bool region_fk = false, cru_fk = false;
  for (const ConstraintInfo* fk : users->ForeignKeys()) {
    region_fk |= fk->ref_table == "probation_regions" && fk->columns == std::vector<std::string>{"probation_region_id"};
    cru_fk |= fk->ref_table == "cas1_cru_management_areas";
    EXPECT_NE(fk->definition.find("FOREIGN KEY"), std::string::npos);
  }
  EXPECT_TRUE(region_fk);
  EXPECT_TRUE(cru_fk);
  auto roles = catalog::ReadTable(tx, "public", "user_role_assignments");
  EXPECT_TRUE(roles->UniqueKeys().empty()) << "no unique key on (user_id, role), as in the real schema";
}

TEST_F(CatalogTest, IdentityColumnsAreReported) {
  pqxx::connection conn(TestBed::Get().Url(Cluster::kPreprod, db_));
  pqxx::read_transaction tx(conn);
  auto notes = catalog::ReadTable(tx, "public", "user_notes");
  ASSERT_TRUE(notes);
  bool identity = false;
  for (const auto& c : notes->columns) identity |= c.is_identity();
  EXPECT_TRUE(identity);
}

TEST_F(CatalogTest, MissingTableIsNotAnError) {
  pqxx::connection conn(TestBed::Get().Url(Cluster::kPreprod, db_));
  pqxx::read_transaction tx(conn);
  EXPECT_FALSE(catalog::ReadTable(tx, "public", "no_such_table"));
  EXPECT_FALSE(catalog::ReadTable(tx, "public", "notes")) << "renamed to user_notes in preprod";
}

TEST_F(CatalogTest, ListsObjectsButNotExtensionMembers) {
  pqxx::connection conn(TestBed::Get().Url(Cluster::kPreprod, db_));
  pqxx::read_transaction tx(conn);
  auto objects = catalog::ListObjects(tx, "public");
  auto has = [&](const std::string& kind, const std::string& name) {
    return std::find(objects.begin(), objects.end(), catalog::CatalogObject{kind, name}) != objects.end();
  };
  EXPECT_TRUE(has("table", "user_notification_preferences"));
  EXPECT_TRUE(has("view", "active_user_emails"));
  EXPECT_TRUE(has("sequence", "booking_reference_seq"));
  EXPECT_TRUE(has("type", "assessment_status"));
  EXPECT_TRUE(has("function", "count_active_users()"));
  for (const auto& o : objects) EXPECT_NE(o.name.rfind("similarity", 0), 0u) << "pg_trgm's functions are the extension's";
}

TEST_F(CatalogTest, DependenciesNameViewsAndForeignKeysOnUsers) {
  pqxx::connection conn(TestBed::Get().Url(Cluster::kPreprod, db_));
  pqxx::read_transaction tx(conn);
  auto deps = catalog::ListDependencies(tx, "public");
  auto depends = [&](const std::string& dependent, const std::string& how_prefix) {
    for (const auto& d : deps) {
      if (d.dependent.name == dependent && d.referenced.name == "users" && d.how.rfind(how_prefix, 0) == 0) return true;
    }
    return false;
  };
  EXPECT_TRUE(depends("active_user_emails", "view definition"));
  EXPECT_TRUE(depends("user_notification_preferences", "foreign key"));
  EXPECT_TRUE(depends("user_notes", "foreign key notes_author_id_fkey"));
}

TEST_F(CatalogTest, MigrationsAreSuccessfulVersionedRowsInFlywayOrder) {
  pqxx::connection conn(TestBed::Get().Url(Cluster::kPreprod, db_));
  pqxx::read_transaction tx(conn);
  auto migrations = catalog::ReadMigrations(tx, "public", "flyway_schema_history");
  ASSERT_EQ(migrations.size(), 15u) << "16 history rows, one failed";
  EXPECT_EQ(migrations.back().version, "20250404150000000");
  std::vector<std::string> versions;
  for (const auto& m : migrations) versions.push_back(m.version);
  auto pos = [&](const std::string& v) { return std::find(versions.begin(), versions.end(), v) - versions.begin(); };
  EXPECT_LT(pos("20240923113600"), pos("2024031509300012")) << "integer order, not string order";
  EXPECT_LT(pos("20250301090000"), pos("2024031509300012"));
}

TEST_F(CatalogTest, AbsentHistoryTableIsAnEmptyHistory) {
  pqxx::connection conn(TestBed::Get().Url(Cluster::kPreprod, db_));
  pqxx::read_transaction tx(conn);
  EXPECT_TRUE(catalog::ReadMigrations(tx, "public", "no_flyway_here").empty());
}

}  // namespace
}  // namespace dbrefresh
