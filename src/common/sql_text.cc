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

std::string CommentText(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace dbrefresh::sql
