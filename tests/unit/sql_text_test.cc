// Quoting of identifiers and seed-SQL literals: the one place SQL text is built.
#include "common/sql_text.h"

#include <gtest/gtest.h>

namespace dbrefresh::sql {
namespace {

struct LiteralCase {
  std::optional<std::string> value;
  std::string expected;
};

class QuoteLiteralCases : public ::testing::TestWithParam<LiteralCase> {};

TEST_P(QuoteLiteralCases, QuotesForStandardConformingStrings) {
  EXPECT_EQ(QuoteLiteral(GetParam().value), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    HostileValues, QuoteLiteralCases,
    ::testing::Values(LiteralCase{std::nullopt, "NULL"}, LiteralCase{std::string(""), "''"},
                      LiteralCase{std::string("O'Brien"), "'O''Brien'"},
                      LiteralCase{std::string("back\\slash"), "'back\\slash'"},
                      LiteralCase{std::string("line1\nline2\ttab\rcr"), "'line1\nline2\ttab\rcr'"},
                      LiteralCase{std::string("Łódź ß é 漢字 🙂"), "'Łódź ß é 漢字 🙂'"},
                      LiteralCase{std::string("'); DROP TABLE users; --"), "'''); DROP TABLE users; --'"},
                      LiteralCase{std::string("\\xdeadbeef"), "'\\xdeadbeef'"},
                      LiteralCase{std::string("{\"a b\",\"c\\\"d\"}"), "'{\"a b\",\"c\\\"d\"}'"}));

TEST(QuoteIdent, DoublesEmbeddedQuotesAndKeepsCase) {
  EXPECT_EQ(QuoteIdent("users"), "\"users\"");
  EXPECT_EQ(QuoteIdent("Mixed Case"), "\"Mixed Case\"");
  EXPECT_EQ(QuoteIdent("we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ(QualifiedName("public", "select"), "\"public\".\"select\"");
}

TEST(TypedLiteral, CastsValuesAndNulls) {
  EXPECT_EQ(TypedLiteral(std::string("{a,b}"), "text[]"), "'{a,b}'::text[]");
  EXPECT_EQ(TypedLiteral(std::nullopt, "uuid"), "NULL::uuid");
}

TEST(WithoutTypmod, DropsLengthsAndPrecisionsButKeepsTheType) {
  EXPECT_EQ(WithoutTypmod("character varying(20)"), "character varying");
  EXPECT_EQ(WithoutTypmod("character varying(20)[]"), "character varying[]");
  EXPECT_EQ(WithoutTypmod("numeric(5,2)"), "numeric");
  EXPECT_EQ(WithoutTypmod("timestamp(3) with time zone"), "timestamp with time zone");
  EXPECT_EQ(WithoutTypmod("uuid"), "uuid");
  EXPECT_EQ(WithoutTypmod("public.\"Odd(1) type\""), "public.\"Odd(1) type\"");
}

TEST(WithoutTypmod, FixedLengthTypesDoNotBecomeLengthOne) {
  EXPECT_EQ(WithoutTypmod("character(3)"), "bpchar");
  EXPECT_EQ(WithoutTypmod("character(3)[]"), "bpchar[]");
  EXPECT_EQ(WithoutTypmod("bit(8)"), "bit varying");
}

TEST(CommentText, CannotEndTheCommentLine) {
  EXPECT_EQ(CommentText("a\nDROP TABLE x;\r"), "a DROP TABLE x; ");
}

}  // namespace
}  // namespace dbrefresh::sql
