// A bounded hand-over of text lines from one thread to another, in batches.
//
// The snapshot reads COPY lines from PostgreSQL on one thread while the other writes SQLite, so
// the two costs overlap instead of adding up. The bound keeps memory flat in the row count.
// A batch is one buffer of whole lines, each ending in '\n' (COPY text escapes every newline inside
// a value), so a batch costs one allocation, not one per line.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>

namespace dbrefresh {

class LinePipe {
 public:
  using Batch = std::string;
  explicit LinePipe(size_t max_batches = 8) : max_batches_(max_batches) {}

  // Producer: blocks while the pipe is full. Returns false once the consumer has given up.
  bool Push(Batch batch);
  // Producer: no more batches; `error` (if any) is rethrown to the consumer by Pop.
  void Close(std::exception_ptr error = nullptr);
  // Consumer: the next batch, or false when closed and drained. Rethrows the producer's error.
  bool Pop(Batch& batch);
  // Consumer: stop early (the producer's next Push returns false).
  void Abandon();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> batches_;
  size_t max_batches_;
  bool closed_ = false;
  bool abandoned_ = false;
  std::exception_ptr error_;
};

}  // namespace dbrefresh
