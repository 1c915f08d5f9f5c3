// Look-ups over the plain table description.
#include "catalog/schema_model.h"

namespace dbrefresh {

const ColumnInfo* TableInfo::FindColumn(const std::string& column) const {
  for (const auto& c : columns) {
    if (c.name == column) return &c;
  }
  return nullptr;
}

const ConstraintInfo* TableInfo::PrimaryKey() const {
  for (const auto& c : constraints) {
    if (c.kind == 'p') return &c;
  }
  return nullptr;
}

std::vector<const ConstraintInfo*> TableInfo::UniqueKeys() const {
  std::vector<const ConstraintInfo*> keys;
  for (const auto& c : constraints) {
    if (c.kind == 'u') keys.push_back(&c);
  }
  return keys;
}

std::vector<const ConstraintInfo*> TableInfo::ForeignKeys() const {
  std::vector<const ConstraintInfo*> keys;
  for (const auto& c : constraints) {
    if (c.kind == 'f') keys.push_back(&c);
  }
  return keys;
}

}  // namespace dbrefresh
