// Ctrl-C while the module trains: Python's own SIGINT handler only sets a flag that the interpreter
// looks at between bytecodes, which it does not run while the library trains (with the GIL released).
// So for the run's length SIGINT sets the trainer's stop flag instead (the run stops after the step in
// progress, leaving the model consistent), and the caller then raises KeyboardInterrupt. The previous
// handler (Python's) is put back at the end.
#pragma once

#include <signal.h>

#include <atomic>

namespace sigtrain::python {

class InterruptScope {
 public:
  // Installs the handler where called from the main thread (where Python handles signals); elsewhere
  // the run cannot be interrupted by Ctrl-C, as Python's own signal handling would not reach it either.
  explicit InterruptScope(bool main_thread);
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

  const std::atomic<bool>* stop_flag() const;
  bool interrupted() const;

 private:
  bool installed_ = false;
  struct sigaction previous_ {};
};

}  // namespace sigtrain::python
