// Seed SQL text: idempotent statements, parent look-ups by unique key, literals quoted once.
#include "seed/seed_writer.h"

#include <sstream>

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

SeedTable Roles() {
  SeedTable t{"public", "user_role_assignments", {{"id", "uuid", 0, std::nullopt}, {"user_id", "uuid", 1, std::nullopt},
                                                  {"role", "text", 2, std::nullopt}}, false, {"user_id", "role"}, {}, {}};
  t.parents.push_back({"user_id", "users", "id", {"delius_username"},
                       [](const std::string& id) -> std::optional<std::vector<std::optional<std::string>>> {
                         if (id == "u1") return std::vector<std::optional<std::string>>{std::string("O'Neil")};
                         return std::nullopt;
                       },
                       {"text"}});
  return t;
}

TEST(SeedWriter, WrapsEverythingInOneTransaction) {
  std::ostringstream out;
  SeedWriter w(out);
  w.Begin({"header\nDROP TABLE x"});
  w.End();
  EXPECT_NE(out.str().find("-- header DROP TABLE x\n"), std::string::npos) << "a header cannot escape its comment";
  EXPECT_NE(out.str().find("BEGIN;"), std::string::npos);
  EXPECT_NE(out.str().find("COMMIT;"), std::string::npos);
  EXPECT_NE(out.str().find("standard_conforming_strings = on"), std::string::npos);
}

TEST(SeedWriter, PinsTheSessionSettingsTheValuesWerePrintedUnderBeforeBegin) {
  std::ostringstream out;
  SeedWriter w(out);
  w.Begin({"header"});
  w.End();
  const std::string text = out.str();
  for (const char* set : {"SET DateStyle = 'ISO, MDY';", "SET IntervalStyle = 'postgres';", "SET extra_float_digits = '3';",
                          "SET client_encoding = 'UTF8';"}) {
    EXPECT_NE(text.find(std::string("\n") + set + "\n"), std::string::npos) << set;
    EXPECT_LT(text.find(set), text.find("BEGIN;")) << set;
  }
}

TEST(SeedWriter, ChildFindsItsParentByTheParentsUniqueKey) {
  std::ostringstream out;
  SeedWriter(out).Row(Roles(), {std::string("r1"), std::string("u1"), std::string("CAS1_ASSESSOR")});
  const std::string sql = out.str();
  EXPECT_NE(sql.find("COALESCE((SELECT p.\"id\" FROM \"public\".\"users\" p WHERE p.\"delius_username\" = 'O''Neil'::text), 'u1'::uuid)"),
            std::string::npos) << sql;
  EXPECT_NE(sql.find("WHERE NOT EXISTS (SELECT 1 FROM \"public\".\"user_role_assignments\" d WHERE d.\"user_id\" IS NOT DISTINCT FROM v.\"user_id\" AND d.\"role\" IS NOT DISTINCT FROM v.\"role\")"),
            std::string::npos) << sql;
  EXPECT_NE(sql.find("ON CONFLICT DO NOTHING;"), std::string::npos);
}

TEST(SeedWriter, UnknownParentKeepsTheSnapshotsId) {
  std::ostringstream out;
  SeedWriter(out).Row(Roles(), {std::string("r1"), std::string("u2"), std::string("X")});
  EXPECT_NE(out.str().find("'u2'::uuid, 'X'::text"), std::string::npos) << out.str();
}

TEST(SeedWriter, ReasonBecomesAOneLineCommentAndValuesAreQuoted) {
  std::ostringstream out;
  SeedTable t{"public", "t", {{"v", "text", 0, std::nullopt}, {"fixed", "integer", -1, std::string("0")}}, true, {}, {}, {}};
  SeedWriter(out).Row(t, {std::string("a'b\\c\nd")}, "violates fk\nDETAIL: x");
  const std::string sql = out.str();
  EXPECT_EQ(sql.rfind("-- violates fk DETAIL: x\n", 0), 0u) << sql;
  EXPECT_NE(sql.find("('a''b\\c\nd'::text, '0'::integer)"), std::string::npos) << sql;
  EXPECT_NE(sql.find("OVERRIDING SYSTEM VALUE"), std::string::npos);
  EXPECT_EQ(sql.find("NOT EXISTS"), std::string::npos) << "no duplicate check without columns";
}

TEST(SeedWriter, NullsStayNull) {
  std::ostringstream out;
  SeedTable t{"public", "t", {{"v", "text", 0, std::nullopt}}, false, {}, {}, {}};
  SeedWriter(out).Row(t, {std::nullopt});
  EXPECT_NE(out.str().find("(NULL::text)"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace dbrefresh
