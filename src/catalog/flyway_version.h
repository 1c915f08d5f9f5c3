// Flyway version ordering: split on '.' and '_', compare the parts as integers, never as strings.
#pragma once

#include <string>
#include <vector>

namespace dbrefresh {

// <0, 0, >0 like strcmp. "1.10" > "1.9"; "2024092311360012" > "20240923113600"; trailing zero
// parts are insignificant ("1.0" == "1"). Parts of any length compare correctly (no overflow).
int CompareFlywayVersions(const std::string& a, const std::string& b);

// Sorts versions ascending in Flyway order.
void SortFlywayVersions(std::vector<std::string>& versions);

}  // namespace dbrefresh
