// Which columns identify "the same person" in prod and preprod when the primary keys differ.
#pragma once

#include <string>
#include <vector>

#include "catalog/schema_model.h"
#include "config/config.h"

namespace dbrefresh {

// The config's match_on for the table when given, else every unique key of `table` other than
// its primary key (SPEC section 7). Each entry is one key (a list of columns).
std::vector<std::vector<std::string>> MatchKeys(const TableInfo& table, const PreserveSpec* spec);

// The primary key's columns, or empty when the table has none.
std::vector<std::string> PrimaryKeyColumns(const TableInfo& table);

}  // namespace dbrefresh
