// Every row of SPEC section 4's mapping table, as a pure plan.
#include "mapping/column_mapping.h"
#include "mapping/match_keys.h"

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

ColumnInfo Col(const std::string& name, const std::string& type, bool not_null = false,
               std::optional<std::string> def = std::nullopt, const std::string& identity = "",
               std::optional<std::string> generated = std::nullopt) {
  return {name, 0, type, not_null, def, identity, generated};
}

TableInfo Table(std::vector<ColumnInfo> columns) { return {"public", "users", std::move(columns), {}}; }

const ColumnPlan& PlanFor(const TableMapping& m, const std::string& column) {
  for (const auto& c : m.columns) {
    if (c.column == column) return c;
  }
  throw std::runtime_error("no plan for " + column);
}

TEST(ColumnMapping, CopiesColumnsInBothByNameWhateverTheirPosition) {
  auto m = PlanTableMapping(Table({Col("id", "uuid"), Col("name", "text")}),
                            Table({Col("name", "text"), Col("id", "uuid")}), {});
  EXPECT_EQ(PlanFor(m, "id").source, ColumnSource::kCopy);
  EXPECT_EQ(PlanFor(m, "id").snapshot_index, 0);
  EXPECT_EQ(PlanFor(m, "name").snapshot_index, 1);
  EXPECT_TRUE(m.warnings.empty());
}

TEST(ColumnMapping, ReportsSnapshotOnlyColumnsAsDropped) {
  auto m = PlanTableMapping(Table({Col("id", "uuid"), Col("employment_grade", "text", true)}), Table({Col("id", "uuid")}), {});
  EXPECT_EQ(m.snapshot_only, std::vector<std::string>{"employment_grade"});
  EXPECT_EQ(m.Written().size(), 1u);
}

struct TargetOnlyCase {
  const char* name;
  ColumnInfo column;
  std::map<std::string, std::string> config_defaults;
  ColumnSource expected;
  std::optional<std::string> literal;
  bool warns;
};

class TargetOnlyColumn : public ::testing::TestWithParam<TargetOnlyCase> {};

TEST_P(TargetOnlyColumn, GetsTheDocumentedValue) {
  const auto& c = GetParam();
  auto m = PlanTableMapping(Table({Col("id", "uuid")}), Table({Col("id", "uuid"), c.column}), c.config_defaults);
  const ColumnPlan& plan = PlanFor(m, c.column.name);
  EXPECT_EQ(plan.source, c.expected) << ToString(plan.source);
  EXPECT_EQ(plan.literal, c.literal);
  EXPECT_EQ(!m.warnings.empty(), c.warns);
  if (c.warns) {
    EXPECT_NE(m.warnings[0].find(c.column.name), std::string::npos) << "the warning names the column";
  }
}

INSTANTIATE_TEST_SUITE_P(
    SpecTable, TargetOnlyColumn,
    ::testing::Values(
        TargetOnlyCase{"default", Col("is_active", "boolean", true, std::string("true")), {}, ColumnSource::kTargetDefault, std::nullopt, false},
        TargetOnlyCase{"nullable", Col("team_codes", "text"), {}, ColumnSource::kNull, std::nullopt, false},
        TargetOnlyCase{"config", Col("delius_staff_code", "text", true), {{"delius_staff_code", "UNKNOWN"}}, ColumnSource::kConfigDefault, std::string("UNKNOWN"), true},
        TargetOnlyCase{"config_beats_type", Col("n", "integer", true), {{"n", "7"}}, ColumnSource::kConfigDefault, std::string("7"), true},
        TargetOnlyCase{"bool", Col("flag", "boolean", true), {}, ColumnSource::kTypeDefault, std::string("false"), true},
        TargetOnlyCase{"int", Col("n", "bigint", true), {}, ColumnSource::kTypeDefault, std::string("0"), true},
        TargetOnlyCase{"numeric", Col("n", "numeric(10,2)", true), {}, ColumnSource::kTypeDefault, std::string("0"), true},
        TargetOnlyCase{"text", Col("grade", "text", true), {}, ColumnSource::kTypeDefault, std::string(""), true},
        TargetOnlyCase{"varchar", Col("grade", "character varying(20)", true), {}, ColumnSource::kTypeDefault, std::string(""), true},
        TargetOnlyCase{"array", Col("tags", "text[]", true), {}, ColumnSource::kTypeDefault, std::string("{}"), true},
        TargetOnlyCase{"jsonb", Col("doc", "jsonb", true), {}, ColumnSource::kTypeDefault, std::string("{}"), true},
        TargetOnlyCase{"timestamp", Col("at", "timestamp with time zone", true), {}, ColumnSource::kTypeDefault, std::string("1970-01-01 00:00:00+00"), true},
        TargetOnlyCase{"uuid_unfillable", Col("area_id", "uuid", true), {}, ColumnSource::kUnfillable, std::nullopt, true},
        TargetOnlyCase{"identity", Col("seq", "bigint", true, std::nullopt, "a"), {}, ColumnSource::kTargetDefault, std::nullopt, false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ColumnMapping, NeverWritesGeneratedColumns) {
  auto gen = Col("full", "text", false, std::nullopt, "", std::string("(a || b)"));
  auto m = PlanTableMapping(Table({Col("id", "uuid"), gen}), Table({Col("id", "uuid"), gen}), {});
  EXPECT_EQ(PlanFor(m, "full").source, ColumnSource::kGenerated);
  EXPECT_EQ(m.Written().size(), 1u);
}

TEST(ColumnMapping, CopiedAlwaysIdentityNeedsOverridingSystemValue) {
  auto id = Col("id", "bigint", true, std::nullopt, "a");
  EXPECT_TRUE(PlanTableMapping(Table({id}), Table({id}), {}).overriding_system_value);
  auto by_default = Col("id", "bigint", true, std::nullopt, "d");
  EXPECT_FALSE(PlanTableMapping(Table({by_default}), Table({by_default}), {}).overriding_system_value);
}

TEST(ColumnMapping, UnfillableColumnMarksTheTable) {
  auto m = PlanTableMapping(Table({Col("id", "uuid")}), Table({Col("id", "uuid"), Col("area", "uuid", true)}), {});
  EXPECT_TRUE(m.Unfillable());
}

// A row equal to a target row but for a surrogate id is a duplicate; with a key of several columns
// (a partitioned table's (id, at)) another key value is another row; a match key decides instead.
TEST(ComparesDuplicates, OnlyWithoutMatchKeysAndWithAPrimaryKeyOfAtMostOneColumn) {
  EXPECT_TRUE(ComparesDuplicates({}, {"id"}));
  EXPECT_TRUE(ComparesDuplicates({}, {}));
  EXPECT_FALSE(ComparesDuplicates({}, {"id", "at"}));
  EXPECT_FALSE(ComparesDuplicates({{"delius_username"}}, {"id"}));
}

}  // namespace
}  // namespace dbrefresh
