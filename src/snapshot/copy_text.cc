// COPY text format codec (see copy_text.h).
#include "snapshot/copy_text.h"

#include <cstring>

#include "common/error.h"

namespace dbrefresh::copy_text {
namespace {

char Unescape(char c) {
  switch (c) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'v': return '\v';
    default: return c;  // \\ and any escaped ordinary character stand for themselves
  }
}

bool IsOctal(char c) { return c >= '0' && c <= '7'; }
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes an escape starting after the backslash at line[i]; advances i past it.
void DecodeEscape(const std::string& line, size_t& i, std::string& field) {
  char c = line[i];
  if (IsOctal(c)) {
    int value = 0, digits = 0;
    while (i < line.size() && digits < 3 && IsOctal(line[i])) value = value * 8 + (line[i++] - '0'), ++digits;
    field += static_cast<char>(value);
    return;
  }
  if (c == 'x' && i + 1 < line.size() && HexValue(line[i + 1]) >= 0) {
    int value = 0, digits = 0;
    ++i;
    while (i < line.size() && digits < 2 && HexValue(line[i]) >= 0) value = value * 16 + HexValue(line[i++]), ++digits;
    field += static_cast<char>(value);
    return;
  }
  field += Unescape(c);
  ++i;
}

// Decodes one field's text [begin, end) into `out`, resolving backslash escapes.
void DecodeField(const char* begin, const char* end, std::string& out) {
  out.clear();
  const char* slash = static_cast<const char*>(std::memchr(begin, '\\', static_cast<size_t>(end - begin)));
  if (!slash) {
    out.assign(begin, end);  // the common case: nothing escaped
    return;
  }
  out.assign(begin, slash);
  const std::string rest(slash, end);
  size_t i = 0;
  while (i < rest.size()) {
    if (rest[i] == '\\' && i + 1 < rest.size()) {
      ++i;
      DecodeEscape(rest, i, out);
    } else {
      out += rest[i++];
    }
  }
}

}  // namespace

void DecodeLine(std::string_view line, size_t expected_fields, std::vector<std::optional<std::string>>& out) {
  // Fields are split on raw tabs: COPY escapes every tab inside a value as \t.
  out.resize(expected_fields);  // reuses the strings of the previous line
  const char* p = line.data();
  const char* const end = p + line.size();
  size_t field = 0;
  while (true) {
    const char* tab = static_cast<const char*>(std::memchr(p, '\t', static_cast<size_t>(end - p)));
    const char* field_end = tab ? tab : end;
    if (field < expected_fields) {
      auto& slot = out[field];
      if (field_end - p == 2 && p[0] == '\\' && p[1] == 'N') {
        slot.reset();
      } else {
        if (!slot) slot.emplace();
        DecodeField(p, field_end, *slot);
      }
    }
    ++field;
    if (!tab) break;
    p = tab + 1;
  }
  if (field != expected_fields) {
    throw Failure("COPY line has " + std::to_string(field) + " fields, expected " + std::to_string(expected_fields));
  }
}

std::string EncodeField(const std::optional<std::string>& value) {
  std::string out;
  AppendField(out, value);
  return out;
}

void AppendField(std::string& out, const std::optional<std::string>& value) {
  if (!value) {
    out += "\\N";
    return;
  }
  for (char c : *value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\v': out += "\\v"; break;
      default: out += c;
    }
  }
}

}  // namespace dbrefresh::copy_text
