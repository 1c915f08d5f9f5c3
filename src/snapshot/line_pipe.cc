// Bounded batch hand-over between the COPY reader and the SQLite writer (see line_pipe.h).
#include "snapshot/line_pipe.h"

namespace dbrefresh {

bool LinePipe::Push(Batch batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return batches_.size() < max_batches_ || abandoned_; });
  if (abandoned_) return false;
  batches_.push_back(std::move(batch));
  changed_.notify_all();
  return true;
}

void LinePipe::Close(std::exception_ptr error) {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  error_ = error;
  changed_.notify_all();
}

bool LinePipe::Pop(Batch& batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !batches_.empty() || closed_; });
  if (!batches_.empty()) {
    batch = std::move(batches_.front());
    batches_.pop_front();
    changed_.notify_all();
    return true;
  }
  if (error_) std::rethrow_exception(error_);
  return false;
}

void LinePipe::Abandon() {
  std::lock_guard<std::mutex> lock(mutex_);
  abandoned_ = true;
  changed_.notify_all();
}

}  // namespace dbrefresh
