// The bounded hand-over between the COPY reader thread and the SQLite writer.
#include "snapshot/line_pipe.h"

#include <stdexcept>
#include <thread>

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

}  // namespace
}  // namespace dbrefresh
