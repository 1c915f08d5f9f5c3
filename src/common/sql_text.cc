// Identifier and literal quoting for SQL text (see sql_text.h for the contract).
#include "common/sql_text.h"

namespace dbrefresh::sql {
namespace {

std::string DoubleEvery(const std::string& text, char quote) {
  std::string out;
  out.reserve(text.size() + 2);
  out += quote;
  for (char c : text) {
    if (c == quote) out += quote;
    out += c;
  }
  out += quote;
  return out;
}

}  // namespace

std::string QuoteIdent(const std::string& name) { return DoubleEvery(name, '"'); }

std::string QualifiedName(const std::string& schema, const std::string& name) {
  return QuoteIdent(schema) + "." + QuoteIdent(name);
}

std::string QuoteLiteral(const std::optional<std::string>& value) {
  if (!value) return "NULL";
  return DoubleEvery(*value, '\'');
}

std::string IdentList(const std::vector<std::string>& names, const std::string& alias) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    if (!alias.empty()) out += alias + ".";
    out += QuoteIdent(name);
  }
  return out;
}

std::string TypedLiteral(const std::optional<std::string>& value, const std::string& type) {
  return QuoteLiteral(value) + "::" + type;
}

std::string WithoutTypmod(const std::string& type) {
  std::string out;
  for (size_t i = 0; i < type.size(); ++i) {
    if (type[i] == '"') {  // a quoted name may hold parentheses of its own
      const size_t close = type.find('"', i + 1);
      const size_t end = close == std::string::npos ? type.size() : close + 1;
      out.append(type, i, end - i);
      i = end - 1;
    } else if (type[i] == '(') {
      const size_t close = type.find(')', i);
      if (close == std::string::npos) return type;
      i = close;
    } else {
      out += type[i];
    }
  }
  const size_t array = out.find("[]");
  const std::string base = out.substr(0, array);
  const std::string dims = array == std::string::npos ? "" : out.substr(array);
  if (base == "character" && type != "character") return "bpchar" + dims;
  if (base == "bit" && type != "bit") return "bit varying" + dims;
  return out;
}

std::string CommentText(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace dbrefresh::sql
