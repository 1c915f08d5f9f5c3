// Orders preserved tables parents before children, by the foreign keys between them.
#pragma once

#include <string>
#include <vector>

#include "catalog/schema_model.h"

namespace dbrefresh {

// Returns the tables' names, each after every other preserved table it references (self-references
// ignored; references to tables outside the set ignored). Ties keep the given order.
// A cycle throws UsageError naming the tables in it.
std::vector<std::string> OrderParentsFirst(const std::vector<TableInfo>& tables);

}  // namespace dbrefresh
