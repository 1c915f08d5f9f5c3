// Preflight's judgement over in-memory catalog facts: what blocks (SPEC section 5) and what warns.
#include "preflight/analyze.h"

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

ColumnInfo Column(const std::string& name, const std::string& type, bool not_null = false,
                  std::optional<std::string> default_expr = std::nullopt) {
  ColumnInfo c;
  c.name = name;
  c.type = type;
  c.not_null = not_null;
  c.default_expr = std::move(default_expr);
  return c;
}

TableInfo Table(const std::string& name, std::vector<ColumnInfo> columns) {
  TableInfo t;
  t.schema = "public";
  t.name = name;
  t.columns = std::move(columns);
  return t;
}

void AddTable(SchemaFacts& facts, const TableInfo& table) {
  facts.objects.push_back({"table", table.name});
  facts.tables[table.name] = table;
}

class AnalyzeSchemasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config.preserve = {{"users", {}, {}}};
    source.summary.server_major = 15;
    target.summary.server_major = 15;
    TableInfo users = Table("users", {Column("id", "uuid", true), Column("name", "text", true)});
    AddTable(source, users);
    AddTable(target, users);
  }
  PreflightReport Analyze(const std::string& strategy = "schema") {
    return AnalyzeSchemas(source, target, config, strategy, tools);
  }
  bool Has(const PreflightReport& r, const std::string& code, Severity severity) {
    for (const auto& f : r.findings) {
      if (f.code == code && f.severity == severity) return true;
    }
    return false;
  }
  void AddBlockingView() {
    target.objects.push_back({"view", "active_user_emails"});
    target.dependencies.push_back({{"view", "active_user_emails"}, {"table", "users"}, "view definition"});
  }
  Config config;
  SchemaFacts source, target;
  std::vector<ToolCheck> tools = {{"pg_dump", "/usr/bin/pg_dump", 15, ""}, {"pg_restore", "/usr/bin/pg_restore", 15, ""}};
};

TEST_F(AnalyzeSchemasTest, IdenticalSidesAreOk) {
  auto r = Analyze();
  EXPECT_EQ(r.verdict(), Severity::kInfo);
  EXPECT_EQ(VerdictName(r.verdict()), "ok");
  EXPECT_TRUE(r.findings.empty());
  ASSERT_EQ(r.preserved.size(), 1u);
  ASSERT_TRUE(r.preserved[0].mapping);
  EXPECT_EQ(r.preserved[0].mapping->Names(ColumnSource::kCopy), (std::vector<std::string>{"id", "name"}));
}

TEST_F(AnalyzeSchemasTest, ABlockingObjectIsAWarningForSchemaAndSwapButBlocksClean) {
  AddBlockingView();
  EXPECT_EQ(Analyze("schema").verdict(), Severity::kWarning);
  EXPECT_EQ(Analyze("swap").verdict(), Severity::kWarning);
  auto clean = Analyze("clean");
  EXPECT_TRUE(clean.blocking());
  ASSERT_EQ(clean.Blocking().size(), 1u);
  EXPECT_NE(clean.Blocking()[0]->message.find("view active_user_emails -> table users"), std::string::npos)
      << clean.Blocking()[0]->message;
}

TEST_F(AnalyzeSchemasTest, ATargetOnlyObjectThatBlocksNothingIsOnlyInfoForClean) {
  target.objects.push_back({"function", "f()"});
  EXPECT_EQ(Analyze("clean").verdict(), Severity::kInfo);
  EXPECT_EQ(Analyze("schema").verdict(), Severity::kWarning) << "the schema strategy drops it";
}

TEST_F(AnalyzeSchemasTest, TargetOnlyMigrationsWarnSourceOnlyOnesInform) {
  source.migrations = {{"1", "", "", 1}, {"2", "", "", 2}};
  target.migrations = {{"1", "", "", 1}, {"3", "", "", 2}};
  auto r = Analyze("clean");
  EXPECT_TRUE(Has(r, "migrations_only_on_target", Severity::kWarning));
  EXPECT_TRUE(Has(r, "migrations_only_on_source", Severity::kInfo));
  EXPECT_EQ(r.verdict(), Severity::kWarning) << "drift never blocks";
}

TEST_F(AnalyzeSchemasTest, APreservedTableMissingFromTheSourceBlocks) {
  source.tables.erase("users");
  source.objects.clear();
  auto r = Analyze();
  EXPECT_TRUE(Has(r, "preserved_table_missing_on_source", Severity::kBlocking));
  EXPECT_FALSE(r.preserved[0].mapping);
}

TEST_F(AnalyzeSchemasTest, APreservedTableMissingFromTheTargetBlocks) {
  target.tables.erase("users");
  target.objects.clear();
  EXPECT_TRUE(Has(Analyze(), "preserved_table_missing_on_target", Severity::kBlocking));
}

TEST_F(AnalyzeSchemasTest, AnOlderClientProgramBlocks) {
  target.summary.server_major = 16;
  auto r = Analyze();
  EXPECT_TRUE(Has(r, "tool_too_old", Severity::kBlocking));
  EXPECT_EQ(r.Blocking().size(), 2u) << "pg_dump and pg_restore";
}

TEST_F(AnalyzeSchemasTest, AClientProgramThatCannotRunBlocks) {
  tools[0].error = "cannot run /x/pg_dump: No such file or directory";
  EXPECT_TRUE(Has(Analyze(), "tool_unavailable", Severity::kBlocking));
}

TEST_F(AnalyzeSchemasTest, ThePreservedMappingTakesTheTargetAsSnapshotAndTheSourceAsDestination) {
  target.tables["users"].columns.push_back(Column("employment_grade", "text", true));
  source.tables["users"].columns.push_back(Column("is_active", "boolean", true, "true"));
  source.tables["users"].columns.push_back(Column("staff_code", "text", true));
  config.preserve[0].defaults["staff_code"] = "UNKNOWN";
  source.tables["users"].columns.push_back(Column("grade_level", "integer", true));
  auto r = Analyze();
  const TableMapping& m = *r.preserved[0].mapping;
  EXPECT_EQ(m.snapshot_only, (std::vector<std::string>{"employment_grade"}));
  EXPECT_EQ(m.Names(ColumnSource::kTargetDefault), (std::vector<std::string>{"is_active"}));
  EXPECT_EQ(m.Names(ColumnSource::kConfigDefault), (std::vector<std::string>{"staff_code"}));
  EXPECT_EQ(m.Names(ColumnSource::kTypeDefault), (std::vector<std::string>{"grade_level"}));
  EXPECT_TRUE(Has(r, "preserved_columns_dropped", Severity::kWarning));
  EXPECT_TRUE(Has(r, "preserved_column_defaulted", Severity::kWarning));
  EXPECT_TRUE(Has(r, "preserved_column_defaulted", Severity::kInfo)) << "a configured value only informs";
  ASSERT_EQ(r.column_differences.size(), 1u);
  EXPECT_TRUE(r.column_differences[0].preserved);
}

TEST_F(AnalyzeSchemasTest, ReportsTypeChangesOfTablesOnBothSides) {
  AddTable(source, Table("bookings", {Column("id", "uuid"), Column("ref", "integer")}));
  AddTable(target, Table("bookings", {Column("id", "uuid"), Column("ref", "text")}));
  auto r = Analyze();
  ASSERT_EQ(r.column_differences.size(), 1u);
  EXPECT_EQ(r.column_differences[0].table, "bookings");
  ASSERT_EQ(r.column_differences[0].type_changed.size(), 1u);
  EXPECT_EQ(r.column_differences[0].type_changed[0].source_type, "integer");
  EXPECT_EQ(r.column_differences[0].type_changed[0].target_type, "text");
}

TEST_F(AnalyzeSchemasTest, JsonHasTheDocumentedShape) {
  AddBlockingView();
  auto json = ToJson(Analyze("clean"));
  for (const char* key : {"verdict", "strategy", "source", "target", "migrations", "target_only_objects",
                          "column_differences", "preserved_tables", "tools", "findings"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["verdict"], "blocking");
  EXPECT_EQ(json["target_only_objects"][0]["chain"], "view active_user_emails -> table users");
  EXPECT_EQ(json["target_only_objects"][0]["blocks_clean"], true);
  EXPECT_EQ(json["preserved_tables"][0]["columns"][0]["action"], "copied");
}

}  // namespace
}  // namespace dbrefresh
