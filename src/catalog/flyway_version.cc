// Flyway version ordering (see flyway_version.h).
#include "catalog/flyway_version.h"

#include <algorithm>

namespace dbrefresh {
namespace {

std::vector<std::string> SplitParts(const std::string& version) {
  std::vector<std::string> parts(1);
  for (char c : version) {
    if (c == '.' || c == '_') {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  // Leading zeros do not count ("007" == "7"); an empty part counts as 0.
  for (auto& part : parts) {
    auto first = part.find_first_not_of('0');
    part = first == std::string::npos ? "0" : part.substr(first);
  }
  while (parts.size() > 1 && parts.back() == "0") parts.pop_back();
  return parts;
}

// Compares digit strings without leading zeros as integers of any size.
int CompareIntegerText(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

}  // namespace

int CompareFlywayVersions(const std::string& a, const std::string& b) {
  auto pa = SplitParts(a);
  auto pb = SplitParts(b);
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    const std::string& x = i < pa.size() ? pa[i] : "0";
    const std::string& y = i < pb.size() ? pb[i] : "0";
    if (int c = CompareIntegerText(x, y)) return c;
  }
  return 0;
}

void SortFlywayVersions(std::vector<std::string>& versions) {
  std::stable_sort(versions.begin(), versions.end(),
                   [](const std::string& a, const std::string& b) { return CompareFlywayVersions(a, b) < 0; });
}

}  // namespace dbrefresh
