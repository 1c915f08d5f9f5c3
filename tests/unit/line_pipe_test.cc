// The bounded hand-over between the COPY reader thread and the SQLite writer.
#include "snapshot/line_pipe.h"

#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

TEST(LinePipe, DeliversEveryBatchInOrderThenEnds) {
  LinePipe pipe(2);
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) pipe.Push({std::to_string(i)});
    pipe.Close();
  });
  LinePipe::Batch batch;
  int expected = 0;
  while (pipe.Pop(batch)) EXPECT_EQ(batch, std::to_string(expected++));
  producer.join();
  EXPECT_EQ(expected, 100);
}

TEST(LinePipe, HandsTheProducersErrorToTheConsumerAfterTheData) {
  LinePipe pipe;
  pipe.Push({"a"});
  pipe.Close(std::make_exception_ptr(std::runtime_error("connection lost")));
  LinePipe::Batch batch;
  EXPECT_TRUE(pipe.Pop(batch));
  EXPECT_THROW(pipe.Pop(batch), std::runtime_error);
}

TEST(LinePipe, AbandoningReleasesABlockedProducer) {
  LinePipe pipe(1);
  pipe.Push({"fills the pipe"});
  bool accepted = true;
  std::thread producer([&] { accepted = pipe.Push({"would block"}); });
  pipe.Abandon();
  producer.join();
  EXPECT_FALSE(accepted);
}

// The snapshot's readers: one pipe, several producers (one per session), one consumer.
TEST(BatchPipe, EndsOnlyOnceEveryProducerHasClosedAndDeliversAllTheirBatches) {
  BatchPipe<std::pair<int, int>> pipe(2, 3);
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&pipe, p] {
      for (int i = 0; i < 50; ++i) pipe.Push({p, i});
      pipe.Close();
    });
  }
  std::pair<int, int> batch;
  std::vector<int> next(3, 0);
  while (pipe.Pop(batch)) EXPECT_EQ(batch.second, next[batch.first]++);  // each producer's order kept
  for (auto& t : producers) t.join();
  EXPECT_EQ(next, std::vector<int>({50, 50, 50}));
}

TEST(BatchPipe, OneProducersErrorReachesTheConsumerWhileOthersAreStillOpen) {
  BatchPipe<int> pipe(8, 2);
  pipe.Push(1);
  pipe.Close(std::make_exception_ptr(std::runtime_error("row security refused the COPY")));
  int batch = 0;
  EXPECT_TRUE(pipe.Pop(batch));
  EXPECT_THROW(pipe.Pop(batch), std::runtime_error);  // without waiting for the second producer
}

}  // namespace
}  // namespace dbrefresh
