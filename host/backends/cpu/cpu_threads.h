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

  // A published job: its generation (one more per job) above kThreadBits, its thread count below.
  // One word, so a worker reads both at once: it takes part in the job it saw, and in it only once.
  // (A worker that sat out job N and then read a separate thread count could read job N + 1's, join
  // N + 1 while still counting N as its last job, then join N + 1 again: busy_ went to −1, a deadlock.)
  static constexpr int kThreadBits = 16;
  static uint64_t job_word(uint64_t generation, int threads) { return generation << kThreadBits | uint64_t(threads); }
  static int job_threads(uint64_t word) { return int(word & ((uint64_t(1) << kThreadBits) - 1)); }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> job_{0};  // job_word(generation, threads); workers wait for it to change
  std::atomic<size_t> next_piece_{0};
  std::atomic<int> busy_{0};  // workers still on the current job
  // The current job, written before job_ changes. Only the workers taking part read it, while the
  // caller waits for them, so it cannot change under them.
  Call call_ = nullptr;
  const void* fn_ = nullptr;
  size_t pieces_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace sigtrain
