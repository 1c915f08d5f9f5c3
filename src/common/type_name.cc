// The closed grammar of format_type's output (see type_name.h).
#include "common/type_name.h"

#include <cctype>

namespace dbrefresh {
namespace {

constexpr size_t kLongestTypeName = 512;

bool IsWordStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool IsWordChar(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

// A cursor over the text; every Take* advances only when it matches.
class Cursor {
 public:
  explicit Cursor(const std::string& text) : text_(text) {}
  bool AtEnd() const { return pos_ == text_.size(); }
  size_t pos() const { return pos_; }
  void Reset(size_t pos) { pos_ = pos; }

  bool TakeLiteral(const std::string& word) {
    if (text_.compare(pos_, word.size(), word) != 0) return false;
    pos_ += word.size();
    return true;
  }
  // A keyword: the literal, not followed by a character that would continue the word.
  bool TakeKeyword(const std::string& word) {
    const size_t start = pos_;
    if (!TakeLiteral(word)) return false;
    if (!AtEnd() && IsWordChar(static_cast<unsigned char>(text_[pos_]))) {
      pos_ = start;
      return false;
    }
    return true;
  }
  bool TakeWord() {
    if (AtEnd() || !IsWordStart(static_cast<unsigned char>(text_[pos_]))) return false;
    while (!AtEnd() && IsWordChar(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return true;
  }
  bool TakeQuoted() {
    if (AtEnd() || text_[pos_] != '"') return false;
    size_t i = pos_ + 1;
    size_t length = 0;
    for (;;) {
      if (i >= text_.size() || text_[i] == '\0') return false;
      if (text_[i] == '"') {
        if (i + 1 < text_.size() && text_[i + 1] == '"') {
          i += 2;
          ++length;
          continue;
        }
        break;
      }
      ++i;
      ++length;
    }
    if (length == 0) return false;
    pos_ = i + 1;
    return true;
  }
  bool TakeIdentifier() { return TakeWord() || TakeQuoted(); }
  // Digits, with an optional minus sign (numeric's negative scale: "numeric(10,-2)").
  bool TakeInteger() {
    const size_t start = pos_;
    if (!AtEnd() && text_[pos_] == '-') ++pos_;
    const size_t digits = pos_;
    while (!AtEnd() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (pos_ == digits) pos_ = start;
    return pos_ > start;
  }

 private:
  const std::string& text_;
  size_t pos_ = 0;
};

// "(12)" or "(10,2)": integers only (the built-in multi-word types).
bool TakeIntegerTypmod(Cursor& c) {
  const size_t start = c.pos();
  if (!c.TakeLiteral("(")) return true;  // optional
  do {
    if (!c.TakeInteger()) return c.Reset(start), false;
  } while (c.TakeLiteral(","));
  if (!c.TakeLiteral(")")) return c.Reset(start), false;
  return true;
}

// "(10,2)" or "(Point,4326)": integers or plain words (extension types such as PostGIS' print words).
bool TakeTypmod(Cursor& c) {
  const size_t start = c.pos();
  if (!c.TakeLiteral("(")) return true;  // optional
  do {
    if (!c.TakeInteger() && !c.TakeWord()) return c.Reset(start), false;
  } while (c.TakeLiteral(","));
  if (!c.TakeLiteral(")")) return c.Reset(start), false;
  return true;
}

bool TakeTimeZone(Cursor& c) { return c.TakeLiteral(" with time zone") || c.TakeLiteral(" without time zone"); }

bool TakeIntervalFields(Cursor& c) {
  // Longest first, so "day to second" is not read as "day".
  static const char* const kFields[] = {" year to month", " day to hour", " day to minute", " day to second",
                                        " hour to minute", " hour to second", " minute to second", " year",
                                        " month", " day", " hour", " minute", " second"};
  for (const char* field : kFields) {
    if (c.TakeKeyword(field)) return true;
  }
  return true;  // optional
}

// The multi-word names; false (cursor unmoved) when the text is none of them.
bool TakeMultiWord(Cursor& c) {
  const size_t start = c.pos();
  if (c.TakeKeyword("double precision")) return true;
  if (c.TakeKeyword("bit varying") || c.TakeKeyword("character varying")) {
    if (TakeIntegerTypmod(c)) return true;
  } else if (c.TakeKeyword("timestamp") || c.TakeKeyword("time")) {
    if (TakeIntegerTypmod(c) && TakeTimeZone(c)) return true;
  } else if (c.TakeKeyword("interval")) {
    if (TakeIntervalFields(c) && TakeIntegerTypmod(c)) return true;
  }
  c.Reset(start);
  return false;
}

bool TakeQualifiedName(Cursor& c) {
  if (!c.TakeIdentifier()) return false;
  if (c.TakeLiteral(".") && !c.TakeIdentifier()) return false;
  return TakeTypmod(c);
}

}  // namespace

bool IsFormatTypeName(const std::string& type) {
  if (type.empty() || type.size() > kLongestTypeName) return false;
  Cursor c(type);
  bool ok = TakeMultiWord(c) && (c.TakeLiteral("[]"), c.AtEnd());
  if (ok) return true;
  c.Reset(0);
  if (!TakeQualifiedName(c)) return false;
  c.TakeLiteral("[]");
  return c.AtEnd();
}

}  // namespace dbrefresh
