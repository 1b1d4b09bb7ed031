// The cpu backend's worker threads. OpenMP would do, but its idle threads keep spinning for
// milliseconds after each parallel region (libgomp's default, fixed when the program starts), and
// where two logical CPUs share a core (this project's 2-vCPU machines do) that spinning slowed the
// working thread up to 7×. These workers spin for kSpinMicroseconds at most, then sleep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace sigtrain {

class CpuThreads {
 public:
  explicit CpuThreads(int threads);  // starts threads − 1 workers; the caller is thread 0
  ~CpuThreads();
  CpuThreads(const CpuThreads&) = delete;
  CpuThreads& operator=(const CpuThreads&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Calls f(piece, thread) for piece = 0 … pieces − 1, on up to `threads` threads (thread < threads,
  // the caller being thread 0), and returns when all are done. Which thread runs which piece varies, so
  // a piece's result must depend on the piece only. f must not throw.
  template <class F>
  void run(int threads, size_t pieces, const F& f) {
    if (threads <= 1 || pieces <= 1 || workers_.empty()) {
      for (size_t p = 0; p < pieces; ++p) f(p, 0);
      return;
    }
    run_job(
        threads, pieces, [](const void* fn, size_t piece, int thread) { (*static_cast<const F*>(fn))(piece, thread); },
        &f);
  }

 private:
  using Call = void (*)(const void* fn, size_t piece, int thread);
  void run_job(int threads, size_t pieces, Call call, const void* fn);
  void run_pieces(int thread);
  void worker(int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};  // one more per job; workers wait for it to change
  std::atomic<size_t> next_piece_{0};
  std::atomic<int> busy_{0};  // workers still on the current job
  // The current job, written before generation_ changes. The workers taking part read it while the
  // caller waits for them; the others only read threads_ and stop_.
  Call call_ = nullptr;
  const void* fn_ = nullptr;
  size_t pieces_ = 0;
  std::atomic<int> threads_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace sigtrain
