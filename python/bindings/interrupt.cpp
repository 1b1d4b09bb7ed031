#include "interrupt.h"

namespace sigtrain::python {

namespace {

// One run at a time holds the handler (the main thread's); runs in other threads never set it.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_interrupt(int) { g_stop.store(true); }

}  // namespace

InterruptScope::InterruptScope(bool main_thread) {
  if (!main_thread) return;
  g_stop.store(false);
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  installed_ = sigaction(SIGINT, &action, &previous_) == 0;
}

InterruptScope::~InterruptScope() {
  if (installed_) sigaction(SIGINT, &previous_, nullptr);
}

const std::atomic<bool>* InterruptScope::stop_flag() const {
  static const std::atomic<bool> never{false};
  return installed_ ? &g_stop : &never;
}

bool InterruptScope::interrupted() const { return installed_ && g_stop.load(); }

}  // namespace sigtrain::python
