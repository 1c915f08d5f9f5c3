// Breadth-first search from each target-only object to the nearest object the source also has.
#include "preflight/target_only_objects.h"

#include <deque>
#include <map>
#include <set>

namespace dbrefresh {
namespace {

using catalog::CatalogObject;
using catalog::Dependency;

struct Step {
  CatalogObject object;
  int previous = -1;    // index into the search's steps
  std::string how;      // how the previous step's object depends on this one
};

// The path of steps from the start to `last`, start excluded.
std::vector<const Step*> PathTo(const std::vector<Step>& steps, int last) {
  std::vector<const Step*> path;
  for (int i = last; steps[i].previous >= 0; i = steps[i].previous) path.insert(path.begin(), &steps[i]);
  return path;
}

void DescribePath(const CatalogObject& start, const std::vector<const Step*>& path, TargetOnlyObject& out) {
  out.chain = Describe(start);
  for (const Step* step : path) {
    out.chain += " -> " + Describe(step->object);
    out.how.push_back(step->how);
  }
}

// Finds the nearest source object reachable from `start` through target-only objects.
void Classify(TargetOnlyObject& item, const std::set<CatalogObject>& on_source,
              const std::multimap<CatalogObject, const Dependency*>& needs) {
  std::vector<Step> steps = {{item.object, -1, ""}};
  std::set<CatalogObject> seen = {item.object};
  std::deque<int> queue = {0};
  while (!queue.empty()) {
    int current = queue.front();
    queue.pop_front();
    auto range = needs.equal_range(steps[current].object);
    for (auto it = range.first; it != range.second; ++it) {
      const CatalogObject& next = it->second->referenced;
      if (!seen.insert(next).second) continue;
      steps.push_back({next, current, it->second->how});
      int index = static_cast<int>(steps.size()) - 1;
      if (on_source.count(next)) {
        item.blocks_clean = true;
        DescribePath(item.object, PathTo(steps, index), item);
        return;
      }
      queue.push_back(index);
    }
  }
}

}  // namespace

std::string Describe(const CatalogObject& object) { return object.kind + " " + object.name; }

std::vector<TargetOnlyObject> FindTargetOnlyObjects(const std::vector<CatalogObject>& source_objects,
                                                    const std::vector<CatalogObject>& target_objects,
                                                    const std::vector<Dependency>& target_dependencies) {
  std::set<CatalogObject> on_source(source_objects.begin(), source_objects.end());
  std::multimap<CatalogObject, const Dependency*> needs;
  for (const auto& d : target_dependencies) needs.emplace(d.dependent, &d);
  std::vector<TargetOnlyObject> out;
  for (const auto& object : target_objects) {
    if (on_source.count(object)) continue;
    TargetOnlyObject item;
    item.object = object;
    Classify(item, on_source, needs);
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace dbrefresh
