// The COPY text codec must round-trip every value PostgreSQL text can hold.
#include "snapshot/copy_text.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace dbrefresh::copy_text {
namespace {

using Values = std::vector<std::optional<std::string>>;

TEST(CopyText, DecodesNullsEscapesAndEmptyStrings) {
  Values out;
  DecodeLine("1\t\\N\t\ta\\tb\\nc\\\\d\t\\\\N", 5, out);
  EXPECT_EQ(out, (Values{std::string("1"), std::nullopt, std::string(""), std::string("a\tb\nc\\d"), std::string("\\N")}));
}

TEST(CopyText, DecodesOctalAndHexEscapes) {
  Values out;
  DecodeLine("\\101\\x42\\r", 1, out);
  EXPECT_EQ(out, (Values{std::string("AB\r")}));
}

TEST(CopyText, RoundTripsHostileValues) {
  Values values = {std::string("O'Brien \"quoted\""), std::string("tab\there\nnewline\r\nCRLF"),
                   std::string("back\\slash\\N"), std::nullopt, std::string("Łódź 漢字 🙂"), std::string(""),
                   std::string("\\x00ff"), std::string("{\"a\\\\b\",NULL}")};
  std::string line;
  for (size_t i = 0; i < values.size(); ++i) line += (i ? "\t" : "") + EncodeField(values[i]);
  Values decoded;
  DecodeLine(line, values.size(), decoded);
  EXPECT_EQ(decoded, values);
}

TEST(CopyText, RejectsWrongFieldCount) {
  Values out;
  EXPECT_THROW(DecodeLine("a\tb", 3, out), dbrefresh::Error);
}

}  // namespace
}  // namespace dbrefresh::copy_text
