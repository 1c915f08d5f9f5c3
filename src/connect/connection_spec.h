// Where a connection comes from (flag, DBREFRESH_*_URL, or the current job's DB_* variables)
// and how it is shown to people: always with the password masked.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dbrefresh {

enum class Side { kSource, kTarget };

struct ConnectionSpec {
  std::string conninfo;  // a libpq URI or keyword/value string; may hold a password
  std::string origin;    // "--source", "DBREFRESH_TARGET_URL", "DB_*_PREPROD", ...
};

// The environment as a map, so tests can pass their own.
using Environment = std::map<std::string, std::string>;
Environment ProcessEnvironment();

// Resolves a side's connection: the flag wins, then DBREFRESH_SOURCE_URL / DBREFRESH_TARGET_URL,
// then DB_HOST/DB_PORT/DB_NAME/DB_USER/DB_PASS (with the suffix _PREPROD for the target).
// Returns nullopt when none is given; the caller decides whether that is a usage error.
// UsageError (exit 2), naming the flag or variable and never the value, when libpq cannot parse it,
// when it is a URI that libpq misreads (an unencoded '@' or '/' in its user or password puts part
// of the password in the host or database), or when its dbname holds a URI or key=value string.
std::optional<ConnectionSpec> ResolveConnection(Side side, const std::optional<std::string>& flag,
                                                const Environment& env);

// Like ResolveConnection, but a missing connection is a usage error (exit 2) naming the options.
ConnectionSpec RequireConnection(Side side, const std::optional<std::string>& flag, const Environment& env);

// The parsed keyword/value pairs of a conninfo (libpq's own parser, URIs included).
// Throws UsageError when libpq cannot parse it; the message never repeats the input.
std::map<std::string, std::string> ParseConninfo(const std::string& conninfo);

// "host=db.example port=5432 dbname=app user=alice password=****" — safe for any output.
// A conninfo libpq cannot parse renders as "<unparseable connection string>".
std::string MaskedConnection(const std::string& conninfo);

// The keywords libpq marks as secret (password, sslpassword, ...), which never go in any output
// nor on a child's command line.
std::vector<std::string> SecretConninfoKeywords();

// The conninfo without its password, as keyword/value text, plus the password on its own,
// so a child process gets the first on its command line and the second in PGPASSWORD.
// UsageError when it holds another secret keyword, which a child could only get on its command line.
struct SplitConninfo {
  std::string without_password;
  std::optional<std::string> password;
};
SplitConninfo SplitPassword(const std::string& conninfo);

// The same conninfo with dbname replaced (e.g. to reach `postgres` for CREATE DATABASE).
std::string WithDatabase(const std::string& conninfo, const std::string& dbname);

// Quotes a value for a keyword/value conninfo: 'it\'s' when needed.
std::string QuoteConninfoValue(const std::string& value);

}  // namespace dbrefresh
