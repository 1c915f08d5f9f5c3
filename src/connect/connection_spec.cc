// Connection resolution and masking, on top of libpq's own conninfo parser.
#include "connect/connection_spec.h"

#include <libpq-fe.h>

#include <memory>

#include "common/error.h"

extern char** environ;

namespace dbrefresh {
namespace {

const char* kMask = "****";

std::string Get(const Environment& env, const std::string& key) {
  auto it = env.find(key);
  return it == env.end() ? std::string() : it->second;
}

// Builds a keyword/value conninfo from the current job's DB_* variables.
std::optional<ConnectionSpec> FromJobVariables(Side side, const Environment& env) {
  const std::string suffix = side == Side::kTarget ? "_PREPROD" : "";
  const std::string host = Get(env, "DB_HOST" + suffix);
  const std::string name = Get(env, "DB_NAME" + suffix);
  if (host.empty() && name.empty()) return std::nullopt;
  std::string conninfo;
  const std::pair<const char*, std::string> parts[] = {
      {"host", host}, {"port", Get(env, "DB_PORT" + suffix)}, {"dbname", name},
      {"user", Get(env, "DB_USER" + suffix)}, {"password", Get(env, "DB_PASS" + suffix)}};
  for (const auto& [keyword, value] : parts) {
    if (value.empty()) continue;
    if (!conninfo.empty()) conninfo += ' ';
    conninfo += std::string(keyword) + "=" + QuoteConninfoValue(value);
  }
  return ConnectionSpec{conninfo, "DB_HOST" + suffix + "/DB_NAME" + suffix + "/..."};
}

using OptionsPtr = std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>;

}  // namespace

Environment ProcessEnvironment() {
  Environment env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string text(*entry);
    auto eq = text.find('=');
    if (eq != std::string::npos) env[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return env;
}

std::optional<ConnectionSpec> ResolveConnection(Side side, const std::optional<std::string>& flag,
                                                const Environment& env) {
  const bool source = side == Side::kSource;
  if (flag && !flag->empty()) return ConnectionSpec{*flag, source ? "--source" : "--target"};
  const std::string var = source ? "DBREFRESH_SOURCE_URL" : "DBREFRESH_TARGET_URL";
  const std::string url = Get(env, var);
  if (!url.empty()) return ConnectionSpec{url, var};
  return FromJobVariables(side, env);
}

ConnectionSpec RequireConnection(Side side, const std::optional<std::string>& flag, const Environment& env) {
  auto spec = ResolveConnection(side, flag, env);
  if (spec) return *spec;
  if (side == Side::kSource) {
    throw UsageError("no source connection: give --source, DBREFRESH_SOURCE_URL, or DB_HOST/DB_NAME/DB_USER/DB_PASS");
  }
  throw UsageError(
      "no target connection: give --target, DBREFRESH_TARGET_URL, or "
      "DB_HOST_PREPROD/DB_NAME_PREPROD/DB_USER_PREPROD/DB_PASS_PREPROD");
}

std::map<std::string, std::string> ParseConninfo(const std::string& conninfo) {
  char* error = nullptr;
  OptionsPtr options(PQconninfoParse(conninfo.c_str(), &error), &PQconninfoFree);
  if (!options) {
    // libpq's message can quote the input, which may hold a password: never pass it on.
    if (error) PQfreemem(error);
    throw UsageError("cannot parse the connection string (check its syntax; it is not shown because it may hold a password)");
  }
  std::map<std::string, std::string> values;
  for (PQconninfoOption* o = options.get(); o->keyword; ++o) {
    if (o->val) values[o->keyword] = o->val;
  }
  return values;
}

std::string QuoteConninfoValue(const std::string& value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (c == ' ' || c == '\'' || c == '\\' || c == '\t' || c == '\n') plain = false;
  }
  if (plain) return value;
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string MaskedConnection(const std::string& conninfo) {
  std::map<std::string, std::string> values;
  try {
    values = ParseConninfo(conninfo);
  } catch (const dbrefresh::Error&) {
    return "<unparseable connection string>";
  }
  std::string out;
  for (const char* key : {"host", "hostaddr", "port", "dbname", "user", "password", "sslmode"}) {
    auto it = values.find(key);
    if (it == values.end()) continue;
    if (!out.empty()) out += ' ';
    out += std::string(key) + "=" + (std::string(key) == "password" ? kMask : QuoteConninfoValue(it->second));
  }
  return out.empty() ? "<libpq defaults>" : out;
}

SplitConninfo SplitPassword(const std::string& conninfo) {
  SplitConninfo split;
  for (const auto& [key, value] : ParseConninfo(conninfo)) {
    if (key == "password") {
      split.password = value;
      continue;
    }
    if (!split.without_password.empty()) split.without_password += ' ';
    split.without_password += key + "=" + QuoteConninfoValue(value);
  }
  return split;
}

std::string WithDatabase(const std::string& conninfo, const std::string& dbname) {
  std::string out;
  auto values = ParseConninfo(conninfo);
  values["dbname"] = dbname;
  for (const auto& [key, value] : values) {
    if (!out.empty()) out += ' ';
    out += key + "=" + QuoteConninfoValue(value);
  }
  return out;
}

}  // namespace dbrefresh
