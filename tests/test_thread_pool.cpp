// The cpu backend's thread pool (host/backends/cpu/cpu_threads.h): every piece of a job runs exactly
// once, on a thread below the job's thread count, and jobs with changing thread counts never deadlock.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "backends/cpu/cpu_threads.h"

namespace sigtrain {
namespace {

// What the stress run found, shared with the thread that runs it (which may outlive the test if it hangs).
struct StressState {
  explicit StressState(int threads) : pool(threads) {}
  CpuThreads pool;
  std::atomic<long> jobs_done{0};
  std::atomic<long> pieces_wrong{0};   // pieces run other than exactly once
  std::atomic<long> threads_wrong{0};  // pieces run on a thread ≥ the job's thread count
};

// Runs `jobs` small jobs on the pool, the thread count cycling through `counts`.
void stress(StressState& s, long jobs, const std::vector<int>& counts) {
  std::vector<std::atomic<int>> runs(8);
  for (long j = 0; j < jobs; ++j) {
    const int threads = counts[size_t(j) % counts.size()];
    const size_t pieces = 2 + size_t(j) % 7;  // 2 … 8: more and fewer pieces than threads
    for (auto& r : runs) r.store(0);
    s.pool.run(threads, pieces, [&](size_t piece, int thread) {
      runs[piece].fetch_add(1);
      if (thread >= threads) s.threads_wrong.fetch_add(1);
    });
    for (size_t p = 0; p < runs.size(); ++p)
      if (runs[p].load() != (p < pieces ? 1 : 0)) s.pieces_wrong.fetch_add(1);
    s.jobs_done.fetch_add(1);
  }
}

// Catches the deadlock of issue 11 (defect 1): a worker that sat out job N read the thread count after
// job N + 1 was published, joined N + 1 and later joined it again; the pool's count of busy workers went
// to −1 and the next job waited forever. The race needs a worker preempted between two loads: with 8
// threads cycling through 2, 8, 1, 5, 3 on the 2-core machine, the old pool hung after 2 k – 102 k jobs
// (36 k on average, 7 runs), so 200 k jobs (~18 s) miss it rarely. The jobs run on their own thread,
// watched from here: a hang (no job finished for kStall) fails this test instead of blocking the suite,
// however slowly a sanitizer build runs the jobs (the hung thread is left behind, detached; the process
// ends with the test run).
TEST(CpuThreads, ChangingThreadCountsNeverDeadlock) {
  constexpr long kJobs = 200000;
  constexpr auto kStall = std::chrono::seconds(20);
  auto state = std::make_shared<StressState>(8);
  std::promise<void> finished;
  std::future<void> done = finished.get_future();
  std::thread([state, finished = std::move(finished)]() mutable {
    stress(*state, kJobs, {2, 8, 1, 5, 3});
    finished.set_value();
  }).detach();
  long last_count = -1;
  auto last_progress = std::chrono::steady_clock::now();
  while (done.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
    const long count = state->jobs_done.load();
    const auto now = std::chrono::steady_clock::now();
    if (count != last_count) {
      last_count = count;
      last_progress = now;
    }
    ASSERT_LT(now - last_progress, kStall) << "the pool hung after " << count << " of " << kJobs << " jobs";
  }
  EXPECT_EQ(state->pieces_wrong.load(), 0);
  EXPECT_EQ(state->threads_wrong.load(), 0);
}

// Catches a pool that drops or repeats pieces when a job asks for more threads than it has.
TEST(CpuThreads, MoreThreadsThanThePoolHasRunsEveryPieceOnce) {
  StressState s(3);
  stress(s, 1000, {8, 2, 100});
  EXPECT_EQ(s.pieces_wrong.load(), 0);
  EXPECT_EQ(s.jobs_done.load(), 1000);
}

}  // namespace
}  // namespace sigtrain
