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

// Whether a row equal to a target row in every column but its primary key counts as already there
// (SPEC section 4: the real user_role_assignments has no unique key on (user_id, role)). Only for a
// table without match keys whose primary key is a single (surrogate) column, or which has none. A
// primary key of several columns is the row's identity itself — a partitioned table's key must hold
// its partition column, e.g. (id, at) — so a row with another key value is another row.
bool ComparesDuplicates(const std::vector<std::vector<std::string>>& match_keys, const std::vector<std::string>& pk);

}  // namespace dbrefresh
