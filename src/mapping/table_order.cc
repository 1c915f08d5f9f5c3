// Parent-first ordering (Kahn's algorithm, stable on the given order).
#include "mapping/table_order.h"

#include <set>

#include "common/error.h"

namespace dbrefresh {

std::vector<std::string> OrderParentsFirst(const std::vector<TableInfo>& tables) {
  std::set<std::string> names;
  for (const auto& t : tables) names.insert(t.name);
  std::vector<std::string> ordered;
  std::set<std::string> placed;
  while (ordered.size() < tables.size()) {
    bool progressed = false;
    for (const auto& t : tables) {
      if (placed.count(t.name)) continue;
      bool ready = true;
      for (const ConstraintInfo* fk : t.ForeignKeys()) {
        if (fk->ref_table != t.name && names.count(fk->ref_table) && !placed.count(fk->ref_table)) ready = false;
      }
      if (!ready) continue;
      ordered.push_back(t.name);
      placed.insert(t.name);
      progressed = true;
    }
    if (!progressed) {
      std::string cycle;
      for (const auto& t : tables) {
        if (!placed.count(t.name)) cycle += (cycle.empty() ? "" : ", ") + t.name;
      }
      throw UsageError("the preserved tables reference each other in a cycle (" + cycle +
                       "): no parent-first order exists");
    }
  }
  return ordered;
}

}  // namespace dbrefresh
