// Throttled progress lines for long steps (dump, restore): "restore: 120/480 items (25%)".
#pragma once

#include <chrono>
#include <string>

namespace dbrefresh {

class ProgressMeter {
 public:
  // `total` 0 means unknown (then only counts are shown). Logs at most once per `interval`.
  ProgressMeter(std::string step, std::string unit, long long total,
                std::chrono::seconds interval = std::chrono::seconds(5));
  void Advance(long long n = 1);
  // Logs the final count once.
  void Finish();
  // Like Finish, for a step that succeeded: the count is shown as complete (100%).
  void Complete();
  long long done() const { return done_; }

 private:
  void Log();
  std::string step_;
  std::string unit_;
  long long total_;
  long long done_ = 0;
  std::chrono::seconds interval_;
  std::chrono::steady_clock::time_point last_;
  bool finished_ = false;
};

}  // namespace dbrefresh
