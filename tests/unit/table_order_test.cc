// Parents before children, by the foreign keys between the preserved tables.
#include "mapping/table_order.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace dbrefresh {
namespace {

TableInfo WithFks(const std::string& name, std::vector<std::string> parents) {
  TableInfo t{"public", name, {}, {}};
  for (const auto& p : parents) t.constraints.push_back({name + "_" + p + "_fkey", 'f', {"x"}, "", p, {"id"}});
  return t;
}

TEST(TableOrder, PutsParentsFirstWhateverTheGivenOrder) {
  auto order = OrderParentsFirst({WithFks("user_role_assignments", {"users"}), WithFks("user_qualification_assignments", {"users"}),
                                  WithFks("users", {"probation_regions"})});
  EXPECT_EQ(order, (std::vector<std::string>{"users", "user_role_assignments", "user_qualification_assignments"}));
}

TEST(TableOrder, IgnoresSelfReferencesAndTablesOutsideTheSet) {
  auto order = OrderParentsFirst({WithFks("users", {"users", "ap_areas"}), WithFks("b", {"users"})});
  EXPECT_EQ(order, (std::vector<std::string>{"users", "b"}));
}

TEST(TableOrder, HandlesChains) {
  auto order = OrderParentsFirst({WithFks("c", {"b"}), WithFks("b", {"a"}), WithFks("a", {})});
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(TableOrder, ACycleIsAnErrorNamingItsTables) {
  try {
    OrderParentsFirst({WithFks("a", {"b"}), WithFks("b", {"a"}), WithFks("c", {})});
    FAIL() << "accepted a cycle";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("a, b"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dbrefresh
