// `dbrefresh preflight` on testdata: drift, blocking objects with their chains, the mapping
// restore-users would apply, exit 4 only when blocking, --json, read-only on both sides.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "refresh_support.h"

namespace dbrefresh::testing {
namespace {

class Preflight : public DatabasePair {
 protected:
  nlohmann::json Json(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"preflight", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    result_ = Run(args);
    auto doc = nlohmann::json::parse(result_.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << result_.all();
    ExpectNoPassword(result_.all(), "preflight output");
    return doc;
  }
  static const nlohmann::json* Object(const nlohmann::json& doc, const std::string& name) {
    for (const auto& o : doc["target_only_objects"]) {
      if (o["name"] == name) return &o;
    }
    return nullptr;
  }
  CommandResult result_;
};

TEST_F(Preflight, ReportsMigrationDriftInFlywayOrder) {
  auto doc = Json();
  EXPECT_EQ(result_.exit_code, 0) << result_.all();
  const auto& flyway = Expected()["preprod"]["flyway"];
  std::vector<std::string> only_target;
  for (const auto& m : doc["migrations"]["only_on_target"]) only_target.push_back(m["version"]);
  EXPECT_EQ(only_target, flyway["successful_versions_only_in_preprod"].get<std::vector<std::string>>());
  EXPECT_TRUE(doc["migrations"]["only_on_source"].empty());
  EXPECT_EQ(doc["migrations"]["source_latest"], Expected()["prod"]["flyway"]["latest"]);
  EXPECT_EQ(doc["migrations"]["target_latest"], flyway["latest_successful"]);
}

TEST_F(Preflight, ListsTargetOnlyObjectsAndTheChainsThatBlockClean) {
  auto doc = Json();
  const auto& pre = Expected()["preprod"];
  for (const char* group : {"preprod_only_tables", "preprod_only_views", "preprod_only_functions"}) {
    for (const auto& name : pre[group]) {
      std::string wanted = name.get<std::string>() + (std::string(group) == "preprod_only_functions" ? "()" : "");
      EXPECT_NE(Object(doc, wanted), nullptr) << wanted;
    }
  }
  std::set<std::string> blocking;
  for (const auto& o : doc["target_only_objects"]) {
    if (o["blocks_clean"] == true) blocking.insert(o["name"].get<std::string>());
  }
  EXPECT_EQ(blocking, (std::set<std::string>{"active_user_emails", "user_notes", "user_notification_preferences"}));
  EXPECT_EQ((*Object(doc, "active_user_emails"))["chain"], "view active_user_emails -> table users");
  EXPECT_EQ((*Object(doc, "user_notes"))["chain"], "table user_notes -> table users");
  EXPECT_EQ((*Object(doc, "user_notes"))["how"][0], "foreign key notes_author_id_fkey");
  EXPECT_EQ((*Object(doc, "cas1_cru_management_areas"))["blocks_clean"], false);
  EXPECT_EQ(doc["verdict"], "warnings") << "strategy schema handles them";
}

TEST_F(Preflight, ShowsTheMappingRestoreUsersWouldApply) {
  auto doc = Json();
  const nlohmann::json* users = nullptr;
  for (const auto& t : doc["preserved_tables"]) {
    if (t["table"] == "users") users = &t;
  }
  ASSERT_NE(users, nullptr);
  EXPECT_EQ((*users)["dropped"], (std::vector<std::string>{"cas1_cru_management_area_id", "employment_grade"}));
  for (const auto& c : (*users)["columns"]) EXPECT_EQ(c["action"], "copied") << c.dump();
  bool users_diff = false;
  for (const auto& d : doc["column_differences"]) {
    if (d["table"] != "users") continue;
    users_diff = true;
    EXPECT_TRUE(d["preserved"].get<bool>());
    EXPECT_EQ(d["only_on_target"].size(), 2u);
  }
  EXPECT_TRUE(users_diff);
}

TEST_F(Preflight, HumanOutputNamesChainsAndVerdict) {
  auto r = Run({"preflight"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(Contains(r.out, "view active_user_emails -> table users")) << r.out;
  EXPECT_TRUE(Contains(r.out, "only on target (the refresh will undo them)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "not inserted now, kept in the snapshot: cas1_cru_management_area_id, employment_grade"));
  EXPECT_TRUE(Contains(r.out, "Verdict: warnings")) << r.out;
  ExpectNoPassword(r.all(), "preflight output");
}

TEST_F(Preflight, ExitsFourOnlyWhenBlocking) {
  auto doc = Json({"--strategy", "clean"});
  EXPECT_EQ(result_.exit_code, 4) << result_.all();
  EXPECT_EQ(doc["verdict"], "blocking");
  ASSERT_EQ(PsqlFile(preprod(), std::string(DBREFRESH_SOURCE_DIR) + "/testdata/scenarios/no-blocking-objects.sql").exit_code, 0);
  doc = Json({"--strategy", "clean"});
  EXPECT_EQ(result_.exit_code, 0) << result_.all();
  EXPECT_NE(doc["verdict"], "blocking");
}

TEST_F(Preflight, APgDumpOlderThanTheServersBlocks) {
  TempDir bin;
  WriteScript(bin.File("pg_dump"), "echo 'pg_dump (PostgreSQL) 14.11'\n");
  WriteScript(bin.File("pg_restore"), "echo 'pg_restore (PostgreSQL) 14.11'\n");
  auto doc = Json({"--pg-bin", bin.path()});
  EXPECT_EQ(result_.exit_code, 4) << result_.all();
  bool too_old = false;
  for (const auto& f : doc["findings"]) too_old |= f["code"] == "tool_too_old" && f["severity"] == "blocking";
  EXPECT_TRUE(too_old) << doc["findings"].dump(2);
}

TEST_F(Preflight, APreservedTableMissingFromTheSourceBlocks) {
  TempDir dir;
  const std::string config = ConfigFile(dir, PreserveConfig({"users", "user_notification_preferences"}));
  auto doc = Json({"--config", config});
  EXPECT_EQ(result_.exit_code, 4) << result_.all();
  EXPECT_EQ(doc["verdict"], "blocking");
}

TEST_F(Preflight, ChangesNothingOnEitherSide) {
  const std::string prod_before = UserTablesDigest(prod().url()), preprod_before = UserTablesDigest(preprod().url());
  const auto prod_objects = ObjectNames(prod().url()), preprod_objects = ObjectNames(preprod().url());
  Json({"--strategy", "clean"});
  Json();
  EXPECT_EQ(UserTablesDigest(prod().url()), prod_before);
  EXPECT_EQ(UserTablesDigest(preprod().url()), preprod_before);
  EXPECT_EQ(ObjectNames(prod().url()), prod_objects);
  EXPECT_EQ(ObjectNames(preprod().url()), preprod_objects);
}

TEST_F(Preflight, WithoutConnectionsIsAUsageError) {
  auto r = RunDbrefresh({"preflight"}, {{"DBREFRESH_SOURCE_URL", ""}, {"DBREFRESH_TARGET_URL", ""}, {"DB_HOST", ""},
                                        {"DB_NAME", ""}, {"DB_HOST_PREPROD", ""}, {"DB_NAME_PREPROD", ""}});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_TRUE(Contains(LastLine(r.err), "error: no source connection")) << r.err;
}

}  // namespace
}  // namespace dbrefresh::testing
