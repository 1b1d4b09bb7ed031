// Faults in a job of many ranks: a rank that fails (a bad file, out of memory, a NaN it cannot go on
// from) must not leave the others waiting in a collective, and the job must end with one line that
// names the rank and the cause. Each phase of the work runs through on_every_rank, after which every
// rank knows whether any failed; then every rank throws the same JobError, which only rank 0 prints.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

#include "mpi/communicator.h"

namespace sigtrain {

// An error that every rank of the job holds, agreed through the communicator: the same text and exit
// status on every rank.
class JobError : public std::runtime_error {
 public:
  JobError(const std::string& what, int exit_code, bool print_here)
      : std::runtime_error(what), exit_code_(exit_code), print_here_(print_here) {}
  int exit_code() const { return exit_code_; }
  // True on rank 0 only: the job's one line.
  bool print_here() const { return print_here_; }

 private:
  int exit_code_;
  bool print_here_;
};

// Runs `work`, then agrees with every other rank (a collective: every rank calls it, in the same order).
// With one rank, `work`'s exception passes unchanged (the program's messages stay as they are). With
// more, if `work` threw on any rank, every rank throws JobError "rank R of N: <cause>" for the first
// rank in rank order that failed (", and K more ranks failed" where others did too), with that rank's
// exit status: 2 for a UsageError, 1 otherwise (InputError, out of memory, anything else).
void on_every_rank(Communicator& ranks, const std::function<void()>& work);

// An error every rank meets alike, without a collective (every rank holds the same figures: a run
// whose every network diverged): InputError (exit 1) in one process, as ever; in a job the JobError
// every rank holds, which rank 0 alone says.
[[noreturn]] void fail_on_every_rank(Communicator& ranks, const std::string& why);

}  // namespace sigtrain
