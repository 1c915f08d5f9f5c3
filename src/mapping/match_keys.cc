// Match-key resolution (see match_keys.h).
#include "mapping/match_keys.h"

namespace dbrefresh {

std::vector<std::vector<std::string>> MatchKeys(const TableInfo& table, const PreserveSpec* spec) {
  if (spec && !spec->match_on.empty()) return {spec->match_on};
  std::vector<std::vector<std::string>> keys;
  for (const ConstraintInfo* key : table.UniqueKeys()) keys.push_back(key->columns);
  return keys;
}

std::vector<std::string> PrimaryKeyColumns(const TableInfo& table) {
  const ConstraintInfo* pk = table.PrimaryKey();
  return pk ? pk->columns : std::vector<std::string>{};
}

bool ComparesDuplicates(const std::vector<std::vector<std::string>>& match_keys, const std::vector<std::string>& pk) {
  return match_keys.empty() && pk.size() <= 1;
}

}  // namespace dbrefresh
