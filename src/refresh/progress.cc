// Throttled progress logging (see progress.h).
#include "refresh/progress.h"

#include <algorithm>

#include "common/log.h"

namespace dbrefresh {

ProgressMeter::ProgressMeter(std::string step, std::string unit, long long total, std::chrono::seconds interval)
    : step_(std::move(step)), unit_(std::move(unit)), total_(total), interval_(interval),
      last_(std::chrono::steady_clock::now()) {}

void ProgressMeter::Advance(long long n) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < interval_) return;
  last_ = now;
  Log();
}

void ProgressMeter::Finish() {
  if (finished_) return;
  finished_ = true;
  Log();
}

void ProgressMeter::Complete() {
  done_ = std::max(done_, total_);
  Finish();
}

void ProgressMeter::Log() {
  nlohmann::json fields = {{unit_, done_}};
  if (total_ > 0) {
    fields["of"] = total_;
    fields["percent"] = std::min<long long>(100, done_ * 100 / total_);
  }
  log::Info(step_ + " progress", fields);
}

}  // namespace dbrefresh
