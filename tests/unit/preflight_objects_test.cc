// Target-only objects and whether they block pg_restore --clean, over in-memory catalog facts.
#include "preflight/target_only_objects.h"

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

using catalog::CatalogObject;
using catalog::Dependency;

CatalogObject Table(const std::string& name) { return {"table", name}; }
CatalogObject View(const std::string& name) { return {"view", name}; }

const TargetOnlyObject* Find(const std::vector<TargetOnlyObject>& items, const CatalogObject& object) {
  for (const auto& item : items) {
    if (item.object == object) return &item;
  }
  return nullptr;
}

class TargetOnlyObjects : public ::testing::Test {
 protected:
  std::vector<CatalogObject> source = {Table("users"), Table("notes"), View("users_with_region")};
  std::vector<CatalogObject> target = {Table("users"), View("users_with_region"), Table("user_notes"),
                                       View("active_user_emails"), Table("cas1_cru_management_areas"),
                                       {"function", "count_active_users()"}, View("emails_of_active"),
                                       Table("lonely")};
  std::vector<Dependency> deps = {
      {View("users_with_region"), Table("users"), "view definition"},
      {Table("user_notes"), Table("users"), "foreign key notes_author_id_fkey"},
      {View("active_user_emails"), Table("users"), "view definition"},
      {Table("users"), Table("cas1_cru_management_areas"), "foreign key users_cas1_fkey"},
      {View("emails_of_active"), View("active_user_emails"), "view definition"},
  };
};

TEST_F(TargetOnlyObjects, ListsEveryObjectTheSourceLacks) {
  auto items = FindTargetOnlyObjects(source, target, deps);
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(Find(items, Table("users")), nullptr);
  EXPECT_EQ(Find(items, View("users_with_region")), nullptr);
  EXPECT_NE(Find(items, {"function", "count_active_users()"}), nullptr);
}

TEST_F(TargetOnlyObjects, AViewOverARestoredTableBlocksWithItsChain) {
  auto items = FindTargetOnlyObjects(source, target, deps);
  const auto* view = Find(items, View("active_user_emails"));
  ASSERT_NE(view, nullptr);
  EXPECT_TRUE(view->blocks_clean);
  EXPECT_EQ(view->chain, "view active_user_emails -> table users");
  EXPECT_EQ(view->how, (std::vector<std::string>{"view definition"}));
}

TEST_F(TargetOnlyObjects, AForeignKeyToARestoredTableBlocks) {
  auto items = FindTargetOnlyObjects(source, target, deps);
  const auto* notes = Find(items, Table("user_notes"));
  ASSERT_NE(notes, nullptr);
  EXPECT_TRUE(notes->blocks_clean);
  EXPECT_EQ(notes->chain, "table user_notes -> table users");
  EXPECT_EQ(notes->how, (std::vector<std::string>{"foreign key notes_author_id_fkey"}));
}

TEST_F(TargetOnlyObjects, ATableThatRestoredTablesReferenceDoesNotBlock) {
  // users -> cas1_cru_management_areas: dropping users drops its own foreign key; nothing blocks.
  auto items = FindTargetOnlyObjects(source, target, deps);
  const auto* areas = Find(items, Table("cas1_cru_management_areas"));
  ASSERT_NE(areas, nullptr);
  EXPECT_FALSE(areas->blocks_clean);
  EXPECT_EQ(areas->chain, "");
}

TEST_F(TargetOnlyObjects, AChainThroughAnotherTargetOnlyObjectIsShownWhole) {
  auto items = FindTargetOnlyObjects(source, target, deps);
  const auto* view = Find(items, View("emails_of_active"));
  ASSERT_NE(view, nullptr);
  EXPECT_TRUE(view->blocks_clean);
  EXPECT_EQ(view->chain, "view emails_of_active -> view active_user_emails -> table users");
  EXPECT_EQ(view->how.size(), 2u);
}

TEST_F(TargetOnlyObjects, ObjectsWithoutDependenciesDoNotBlock) {
  auto items = FindTargetOnlyObjects(source, target, deps);
  EXPECT_FALSE(Find(items, Table("lonely"))->blocks_clean);
  EXPECT_FALSE(Find(items, {"function", "count_active_users()"})->blocks_clean);
}

TEST_F(TargetOnlyObjects, DependencyCyclesEnd) {
  deps.push_back({Table("lonely"), View("emails_of_active"), "foreign key x"});
  deps.push_back({View("active_user_emails"), Table("lonely"), "view definition"});
  auto items = FindTargetOnlyObjects(source, target, deps);
  EXPECT_TRUE(Find(items, Table("lonely"))->blocks_clean);
}

}  // namespace
}  // namespace dbrefresh
