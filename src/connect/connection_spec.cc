// Connection resolution and masking, on top of libpq's own conninfo parser.
#include "connect/connection_spec.h"

#include <libpq-fe.h>

#include <algorithm>
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

bool StartsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

bool IsUri(const std::string& conninfo) {
  return StartsWith(conninfo, "postgresql://") || StartsWith(conninfo, "postgres://");
}

// A URI whose user or password holds an unencoded '@' or '/' is split by libpq in the wrong
// place: part of the password becomes the host or the database, and would be printed as such.
// The signs: a host, port or dbname that holds '@', or a user-info part with more than one '@'.
// (A ':' inside the password is read right: libpq splits user-info at its first ':'.)
bool LibpqMisreadsUri(const std::string& conninfo, const std::map<std::string, std::string>& values) {
  if (!IsUri(conninfo)) return false;
  const size_t start = conninfo.find("://") + 3;
  const size_t end = conninfo.find_first_of("/?", start);
  const std::string authority = conninfo.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (std::count(authority.begin(), authority.end(), '@') > 1) return true;
  for (const char* key : {"host", "port", "dbname"}) {
    auto it = values.find(key);
    if (it != values.end() && it->second.find('@') != std::string::npos) return true;
  }
  return false;
}

// Checks what libpq would do with a connection before anything uses it. The value is never
// repeated: it may hold a password.
void ValidateConnection(const ConnectionSpec& spec) {
  std::map<std::string, std::string> values;
  try {
    values = ParseConninfo(spec.conninfo);
  } catch (const dbrefresh::Error& e) {
    throw UsageError(spec.origin + ": " + e.what());
  }
  if (LibpqMisreadsUri(spec.conninfo, values)) {
    throw UsageError(spec.origin + ": the URI's user or password holds an unencoded '@' or '/', which libpq would read "
                     "as part of the host or database; percent-encode them (@ as %40, / as %2F) (the value is not shown)");
  }
  auto dbname = values.find("dbname");
  if (dbname != values.end() &&
      (IsUri(dbname->second) || dbname->second.find('=') != std::string::npos)) {
    // pg_dump and pg_restore would expand it as a connection string of its own; dbrefresh would not.
    throw UsageError(spec.origin + ": the database name holds a URI or a key=value connection string; give the "
                     "connection itself instead (the value is not shown)");
  }
}

}  // namespace

std::vector<std::string> SecretConninfoKeywords() {
  std::vector<std::string> secrets;
  OptionsPtr defaults(PQconndefaults(), &PQconninfoFree);
  for (PQconninfoOption* o = defaults.get(); o && o->keyword; ++o) {
    if (o->dispchar && o->dispchar[0] == '*') secrets.push_back(o->keyword);
  }
  if (secrets.empty()) secrets = {"password", "sslpassword"};
  return secrets;
}

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
  std::optional<ConnectionSpec> spec;
  const std::string var = source ? "DBREFRESH_SOURCE_URL" : "DBREFRESH_TARGET_URL";
  if (flag && !flag->empty()) {
    spec = ConnectionSpec{*flag, source ? "--source" : "--target"};
  } else if (!Get(env, var).empty()) {
    spec = ConnectionSpec{Get(env, var), var};
  } else {
    spec = FromJobVariables(side, env);
  }
  if (spec) ValidateConnection(*spec);
  return spec;
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
  const auto secrets = SecretConninfoKeywords();
  for (const auto& [key, value] : ParseConninfo(conninfo)) {
    if (key == "password") {
      split.password = value;
      continue;
    }
    if (std::find(secrets.begin(), secrets.end(), key) != secrets.end()) {
      // libpq reads no environment variable for it, so a child could only get it on its command line.
      throw UsageError("the connection sets " + key + ", a secret that pg_dump and pg_restore could only be given on "
                       "their command line, where other users see it; use a key without a passphrase, or a service "
                       "file (PGSERVICEFILE) holding it");
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
