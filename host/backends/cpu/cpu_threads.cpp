#include "backends/cpu/cpu_threads.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

namespace sigtrain {

namespace {

// How long a waiting thread spins before it sleeps: long enough to catch the next step's work when
// steps follow each other (a few microseconds apart), short enough not to starve a thread that
// shares its core.
constexpr auto kSpinMicroseconds = std::chrono::microseconds(20);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() or kSpinMicroseconds have passed; returns done().
template <class Done>
bool spin_until(const Done& done) {
  const auto give_up = std::chrono::steady_clock::now() + kSpinMicroseconds;
  for (int k = 1;; ++k) {
    if (done()) return true;
    cpu_relax();
    if (k % 64 == 0 && std::chrono::steady_clock::now() > give_up) return done();
  }
}

}  // namespace

CpuThreads::CpuThreads(int threads) {
  if (threads >= (1 << kThreadBits))
    throw std::invalid_argument("the cpu backend takes at most " + std::to_string((1 << kThreadBits) - 1) +
                                " threads, got " + std::to_string(threads));
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker(t); });
}

CpuThreads::~CpuThreads() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    job_.store(job_word((job_.load() >> kThreadBits) + 1, 0));
  }
  wake_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void CpuThreads::run_pieces(int thread) {
  for (size_t p = next_piece_.fetch_add(1); p < pieces_; p = next_piece_.fetch_add(1)) call_(fn_, p, thread);
}

void CpuThreads::run_job(int threads, size_t pieces, Call call, const void* fn) {
  threads = std::min(threads, size());
  call_ = call;
  fn_ = fn;
  pieces_ = pieces;
  next_piece_.store(0);
  busy_.store(threads - 1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_.store(job_word((job_.load() >> kThreadBits) + 1, threads));  // publishes the job
  }
  wake_.notify_all();
  run_pieces(0);
  const auto finished = [this] { return busy_.load() == 0; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, finished);
  }
}

void CpuThreads::worker(int thread) {
  uint64_t seen = 0;
  for (;;) {
    const auto new_job = [&] { return job_.load() != seen; };
    if (!spin_until(new_job)) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, new_job);
    }
    seen = job_.load();
    if (stop_.load()) return;
    // Whether to take part is decided by the job just seen: if it is not ours, the next one has a new
    // word and wakes this worker again; if it is, the caller waits for us before publishing another.
    if (thread >= job_threads(seen)) continue;
    run_pieces(thread);
    if (busy_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace sigtrain
