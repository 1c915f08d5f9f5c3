// The closed grammar of type names read from a snapshot: what format_type prints passes, nothing
// that could be an expression does.
#include "common/type_name.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dbrefresh {
namespace {

TEST(TypeName, AcceptsWhatFormatTypePrints) {
  const std::vector<std::string> types = {
      "text", "uuid", "integer", "bigint", "boolean", "jsonb", "bytea", "date", "citext", "\"char\"", "name",
      "numeric", "numeric(10,2)", "numeric(10,-2)", "numeric(5)", "character(3)", "bit(8)", "character varying", "character varying(20)",
      "character varying(20)[]", "bit varying(5)", "double precision", "double precision[]", "real",
      "timestamp without time zone", "timestamp(3) with time zone", "timestamp(0) without time zone[]",
      "time with time zone", "time(6) without time zone", "timestamp", "time", "interval", "interval(3)",
      "interval year to month", "interval day to second(3)", "interval second(2)", "interval minute",
      "text[]", "uuid[]", "public.\"Status\"", "public.\"Status\"[]", "\"Status\"", "app.status",
      "\"my \"\"odd\"\" type\"", "\"a(b)\"", "geometry(Point,4326)", "public.geometry(MultiPolygon,4326)",
      "é_type", "_int4", "t$1",
      // A name with a typmod is a type name in a cast whatever the name: '1'::setval(1,2) calls nothing.
      "setval(1,2)",
  };
  for (const auto& type : types) EXPECT_TRUE(IsFormatTypeName(type)) << type;
}

TEST(TypeName, RefusesExpressionsAndAnythingElse) {
  const std::vector<std::string> types = {
      "",
      "text OR setval(16384,4242) IS NOT NULL",
      "text IS NOT NULL AND (SELECT setval($$reliability_canary_seq$$,4242)) IS NOT NULL",
      "text OR setval(1,2) IS NOT NULL",
      "text; DROP TABLE users",
      "text -- comment",
      "text /* c */",
      "text)",
      "(text)",
      "text collate \"C\"",
      "text, text",
      "integer + 1",
      "numeric(10,2)(3)",
      "numeric(10,--2)",
      "numeric(-)",
      "numeric()",
      "numeric(10,'x')",
      "text[][]",
      "text []",
      " text",
      "text ",
      "a.b.c",
      "\"\"",
      "\"unterminated",
      "character varying(x)",
      "timestamp(3) with time zone or true",
      "double precision(3)",
      "interval day to second to hour",
      "text\n",
      "bigint\tx",
      "'text'",
      "text::int",
      "$$text$$",
      std::string(600, 'a'),
  };
  for (const auto& type : types) EXPECT_FALSE(IsFormatTypeName(type)) << type;
}

}  // namespace
}  // namespace dbrefresh
