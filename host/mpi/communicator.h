#pragma once

#include <cstddef>
#include <string>
#include <vector>

// The one place that knows about MPI (communicator.cpp): the trainer and the CLI call this interface.
namespace sigtrain {

// The ranks of a job: MPI's world where the program was built with MPI (SIGTRAIN_HAVE_MPI) and
// started under mpirun/srun; one rank otherwise (every collective then a copy). Collectives must be
// called by every rank in the same order.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // among the ranks on this machine (which GPU: local_rank % devices)
  virtual void barrier() = 0;
  // Every rank's bytes, in rank order, on every rank.
  virtual std::vector<std::string> all_gather(const std::string& mine) = 0;
  // root's bytes on every rank (`mine` is ignored except on root).
  virtual std::string broadcast(const std::string& mine, int root = 0) = 0;
  // values[0 … n) summed over the ranks IN RANK ORDER (((r0 + r1) + r2) + …), the same bits on every
  // rank and run after run for a given rank count; in place. (Not MPI_Allreduce's own sum, whose order
  // is unspecified: gather then sum, or an equivalent fixed order.)
  virtual void sum_in_rank_order(double* values, size_t n) = 0;
  // Fault agreement: every rank calls it with its error line (empty: none); returns every rank's,
  // in rank order. Throws nothing itself.
  std::vector<std::string> gather_errors(const std::string& mine) { return all_gather(mine); }

  // Added after the first version (not pure, so that a test's own Communicator need not define them):
  // The number of ranks on this machine (threads per rank: cores / local_size).
  virtual int local_size() const { return size(); }
  // Every rank's bytes, in rank order, on root only (elsewhere an empty vector): what only rank 0 needs
  // (the models it writes) need not be held by every rank.
  virtual std::vector<std::string> gather(const std::string& mine, int root = 0);
  // Ends every rank of the job at once with this exit status (MPI_Abort): for an error that one rank
  // hit where the others may be waiting in a collective. Flushes stdout and stderr first.
  [[noreturn]] virtual void abort(int exit_code);
};

// This process's communicator (made on first use; MPI_Init then, MPI_Finalize at exit).
Communicator& world();
bool built_with_mpi();
// Whether world() has been made: an error before then has no other rank waiting on this one.
bool world_made();

}  // namespace sigtrain
