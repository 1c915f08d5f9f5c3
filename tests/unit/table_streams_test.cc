// The names a streamed table is given: in SQL (COPY, TRUNCATE, LOCK) and as a pg_dump pattern
// (--exclude-table-data), where *, ?, a dot and upper case would otherwise mean something.
#include "refresh/table_streams.h"

#include <cctype>
#include <ostream>

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

struct NameCase {
  const char* what;
  const char* schema;
  const char* name;
  const char* qualified;  // the SQL name, and the pg_dump pattern: inside double quotes every character
                          // is literal for both, and a double quote is written twice
};

void PrintTo(const NameCase& c, std::ostream* os) { *os << c.what; }

class TableStreamsNames : public ::testing::TestWithParam<NameCase> {};

TEST_P(TableStreamsNames, QuoteEveryPartSoThatEachCharacterIsLiteral) {
  StreamedTable t;
  t.schema = GetParam().schema;
  t.name = GetParam().name;
  EXPECT_EQ(t.Qualified(), GetParam().qualified);
  EXPECT_EQ(t.DumpPattern(), GetParam().qualified);
}

INSTANTIATE_TEST_SUITE_P(
    OddNames, TableStreamsNames,
    ::testing::Values(NameCase{"plain", "public", "notes", R"("public"."notes")"},
                      NameCase{"upper case is not folded", "Public", "Notes", R"("Public"."Notes")"},
                      NameCase{"a double quote", "public", R"(we"ird)", R"("public"."we""ird")"},
                      NameCase{"only double quotes", "\"", "\"\"", "\"\"\"\".\"\"\"\"\"\""},
                      NameCase{"a star", "public", "a*b", R"("public"."a*b")"},
                      NameCase{"a question mark", "public", "a?b", R"("public"."a?b")"},
                      NameCase{"dots in both parts", "my.schema", "t.x", R"("my.schema"."t.x")"},
                      NameCase{"spaces", "two words", " padded ", R"("two words"." padded ")"},
                      NameCase{"regex and pattern characters", "s", R"(a$b|c(d)[e]{f}^g+h\i)", R"("s"."a$b|c(d)[e]{f}^g+h\i")"},
                      NameCase{"Unicode", "schéma", "wëird ✓ 列", R"("schéma"."wëird ✓ 列")"},
                      NameCase{"everything at once", R"(odd "schema" *.ü)", R"(wëird "table" *?.x)",
                               R"("odd ""schema"" *.ü"."wëird ""table"" *?.x")"}),
    [](const ::testing::TestParamInfo<NameCase>& info) {
      std::string name;
      for (const char* c = info.param.what; *c; ++c) name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
      return name;
    });

}  // namespace
}  // namespace dbrefresh
