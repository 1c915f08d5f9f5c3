// Target-only objects and whether they block `pg_restore --clean`. Pure logic over catalog facts.
//
// pg_restore --clean drops each restored object without CASCADE; an object the source lacks that
// depends on a restored object (a foreign key to it, a view over it) makes that DROP fail. Such an
// object "blocks", and the chain says why: "view active_user_emails -> table users".
#pragma once

#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace dbrefresh {

struct TargetOnlyObject {
  catalog::CatalogObject object;
  bool blocks_clean = false;
  // Shortest dependency path to an object the source also has, through target-only objects:
  // "table user_notes -> table users". Empty when there is none (then it blocks nothing).
  std::string chain;
  // How each step depends, in chain order: "foreign key notes_author_id_fkey", "view definition".
  std::vector<std::string> how;
};

// Every object of `target_objects` absent (same kind and name) from `source_objects`, in the
// target's order, each classified by `target_dependencies` (dependent needs referenced).
std::vector<TargetOnlyObject> FindTargetOnlyObjects(const std::vector<catalog::CatalogObject>& source_objects,
                                                    const std::vector<catalog::CatalogObject>& target_objects,
                                                    const std::vector<catalog::Dependency>& target_dependencies);

// "view active_user_emails".
std::string Describe(const catalog::CatalogObject& object);

}  // namespace dbrefresh
