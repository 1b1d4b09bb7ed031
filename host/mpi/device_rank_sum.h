// A sum over the ranks of a job of values in GPU memory, in rank order (issue 13: NCCL on device
// buffers where the cuda backend is used). A data-parallel step whose gradients stay on the device
// (Backend::data_parallel_step) hands its sums to one of these instead of copying them to the host
// for the communicator's MPI sum. Its twin on the host is Communicator::sum_in_rank_order: both run
// math/rank_sum.h's slices and rank-order sums, so they give the same bits for the same values.
#pragma once

#include <cstddef>
#include <memory>

#include "mpi/communicator.h"

namespace sigtrain {

class DeviceRankSum {
 public:
  virtual ~DeviceRankSum() = default;
  // values[0 … n) (device memory of the current GPU) summed over the ranks in rank order, in place,
  // enqueued on `stream` (a cudaStream_t; every rank calls it in the same order).
  virtual void sum_in_rank_order(double* values, size_t n, void* stream) = 0;
  virtual std::string name() const = 0;  // for the run's first lines
};

// Whether this build has NCCL (SIGTRAIN_HAVE_NCCL: CUDA and nccl.h/libnccl found; MPI is needed only for
// more than one rank).
bool built_with_nccl();
// Whether NCCL's sum can run for `comm`'s ranks on this machine: a build with NCCL, and a GPU of its
// own for every rank here (NCCL takes one rank per GPU). The same answer on every rank of a machine.
bool nccl_fits_ranks(Communicator& comm);
// NCCL's sum over the ranks of `comm` (a collective: every rank calls it; each rank's GPU is its
// current CUDA device, one GPU per rank), or null where this build has no NCCL.
std::unique_ptr<DeviceRankSum> make_nccl_rank_sum(Communicator& comm);

}  // namespace sigtrain
