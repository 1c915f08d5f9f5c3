// A bounded hand-over of batches from reader threads to one writer thread.
//
// The snapshot reads COPY lines from PostgreSQL on reader threads while another thread writes
// SQLite, so the costs overlap instead of adding up. The bound keeps memory flat in the row count.
// A LinePipe batch is one buffer of whole lines, each ending in '\n' (COPY text escapes every
// newline inside a value), so a batch costs one allocation, not one per line.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>

namespace dbrefresh {

template <typename T>
class BatchPipe {
 public:
  using Batch = T;
  // Closed once each of `producers` has called Close.
  explicit BatchPipe(size_t max_batches = 8, int producers = 1) : max_batches_(max_batches), open_producers_(producers) {}

  // Producer: blocks while the pipe is full. Returns false once the consumer has given up.
  bool Push(Batch batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return batches_.size() < max_batches_ || abandoned_; });
    if (abandoned_) return false;
    batches_.push_back(std::move(batch));
    changed_.notify_all();
    return true;
  }

  // Producer: no more batches from it; `error` (the first given) is rethrown to the consumer by
  // Pop once the batches before it are delivered.
  void Close(std::exception_ptr error = nullptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (open_producers_ > 0) --open_producers_;
    if (error && !error_) error_ = error;
    changed_.notify_all();
  }

  // Consumer: the next batch, or false when every producer closed and the pipe is drained.
  // Rethrows a producer's error, as soon as there is one and the batches queued are taken.
  bool Pop(Batch& batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !batches_.empty() || open_producers_ == 0 || error_; });
    if (!batches_.empty()) {
      batch = std::move(batches_.front());
      batches_.pop_front();
      changed_.notify_all();
      return true;
    }
    if (error_) std::rethrow_exception(error_);
    return false;
  }

  // Consumer: stop early (the producers' next Push returns false).
  void Abandon() {
    std::lock_guard<std::mutex> lock(mutex_);
    abandoned_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> batches_;
  size_t max_batches_;
  int open_producers_;
  bool abandoned_ = false;
  std::exception_ptr error_;
};

using LinePipe = BatchPipe<std::string>;

}  // namespace dbrefresh
