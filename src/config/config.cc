// Config parsing with strict keys and types (see config.h).
#include "config/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace dbrefresh {
namespace {

using nlohmann::json;

class Parser {
 public:
  explicit Parser(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void Fail(const std::string& key, const std::string& what) const {
    throw UsageError("config " + origin_ + ": key '" + key + "' " + what);
  }

  std::string Text(const json& v, const std::string& key, const std::set<std::string>& allowed = {}) const {
    if (!v.is_string()) Fail(key, "must be a string");
    std::string s = v.get<std::string>();
    if (!allowed.empty() && !allowed.count(s)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      Fail(key, "must be one of " + list + " (got '" + s + "')");
    }
    return s;
  }

  int Integer(const json& v, const std::string& key, int min, int max) const {
    if (!v.is_number_integer()) Fail(key, "must be an integer");
    // A value beyond long long comes as unsigned: read as long long it would wrap (2^64 - 1 to -1).
    if (v.is_number_unsigned() && v.get<unsigned long long>() > static_cast<unsigned long long>(max)) {
      Fail(key, "must be from " + std::to_string(min) + " to " + std::to_string(max));
    }
    const auto n = v.get<long long>();
    if (n < min || n > max) Fail(key, "must be from " + std::to_string(min) + " to " + std::to_string(max));
    return static_cast<int>(n);
  }

  std::vector<std::string> TextList(const json& v, const std::string& key) const {
    if (!v.is_array()) Fail(key, "must be an array of strings");
    std::vector<std::string> out;
    for (const auto& item : v) {
      if (!item.is_string()) Fail(key, "must be an array of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  PreserveSpec Preserve(const json& v, size_t index) const {
    const std::string key = "preserve[" + std::to_string(index) + "]";
    if (!v.is_object()) Fail(key, "must be an object with a \"table\"");
    PreserveSpec spec;
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string sub = key + "." + it.key();
      if (it.key() == "table") {
        spec.table = Text(it.value(), sub);
      } else if (it.key() == "match_on") {
        spec.match_on = TextList(it.value(), sub);
      } else if (it.key() == "defaults") {
        if (!it.value().is_object()) Fail(sub, "must be an object of column: value");
        for (auto d = it.value().begin(); d != it.value().end(); ++d) spec.defaults[d.key()] = Text(d.value(), sub + "." + d.key());
      } else {
        Fail(sub, "is not a known key (known: table, match_on, defaults)");
      }
    }
    if (spec.table.empty()) Fail(key + ".table", "is required and must not be empty");
    return spec;
  }

  void Apply(const json& root, Config& c) const {
    if (!root.is_object()) throw UsageError("config " + origin_ + ": must be a JSON object");
    for (auto it = root.begin(); it != root.end(); ++it) ApplyKey(it.key(), it.value(), c);
  }

 private:
  void ApplyKey(const std::string& k, const json& v, Config& c) const {
    if (k == "schema") c.schema = Text(v, k);
    else if (k == "preserve") c.preserve = PreserveList(v);
    else if (k == "migration_table") c.migration_table = Text(v, k);
    else if (k == "strategy") c.strategy = Text(v, k, {"schema", "clean", "swap"});
    else if (k == "jobs") c.jobs = Integer(v, k, 1, 64);
    else if (k == "pg_dump_args") c.pg_dump_args = TextList(v, k);
    else if (k == "pg_restore_args") c.pg_restore_args = TextList(v, k);
    else if (k == "on_conflict") c.on_conflict = Text(v, k, {"skip", "update", "fail"});
    else if (k == "post_restore_command") c.post_restore_command = TextList(v, k);
    else if (k == "wait_for_migrations_seconds") c.wait_for_migrations_seconds = Integer(v, k, 0, 86400);
    else if (k == "snapshot_dir") c.snapshot_dir = Text(v, k);
    else if (k == "keep_snapshots") c.keep_snapshots = Integer(v, k, 1, 10000);
    else if (k == "lock_timeout_seconds") c.lock_timeout_seconds = Integer(v, k, 1, 3600);
    else if (k == "keep_before_databases") c.keep_before_databases = Integer(v, k, 1, 1000);
    else if (k == "stream_min_table_mb") c.stream_min_table_mb = Integer(v, k, -1, 1 << 24);
    else if (k == "terminate_connections") {
      if (!v.is_boolean()) Fail(k, "must be true or false");
      c.terminate_connections = v.get<bool>();
    } else {
      Fail(k, "is not a known key");
    }
  }

  std::vector<PreserveSpec> PreserveList(const json& v) const {
    if (!v.is_array() || v.empty()) Fail("preserve", "must be a non-empty array of tables");
    std::vector<PreserveSpec> out;
    for (size_t i = 0; i < v.size(); ++i) out.push_back(Preserve(v[i], i));
    return out;
  }

  std::string origin_;
};

}  // namespace

const PreserveSpec* Config::FindPreserve(const std::string& table) const {
  for (const auto& p : preserve) {
    if (p.table == table) return &p;
  }
  return nullptr;
}

Config ParseConfig(const std::string& json_text, const std::string& origin) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {  // syntax errors, and numbers too big for a double (1e400)
    throw UsageError("config " + origin + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  Config config;
  Parser(origin).Apply(root, config);
  return config;
}

Config LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("config " + path + ": cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

}  // namespace dbrefresh
