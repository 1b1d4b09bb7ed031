// A sum over the ranks of a job in rank order, ((v_0 + v_1) + v_2) + …, as a reduce-scatter and an
// all-gather: the n values are cut into one slice per rank, rank k receives every rank's copy of
// slice k, adds them in rank order, and every rank gathers the summed slices. Written once for the
// host (MPI on host buffers, host/mpi/communicator.cpp) and the device (NCCL on GPU buffers,
// kernels/rank_sum.cu with host/backends/cuda/nccl_rank_sum.cpp), so both give the bits of a serial
// sum in rank order, whichever transport moved the slices.
#pragma once

#include <cstddef>

#include "math/activation.h"  // SIGTRAIN_HD

namespace sigtrain {

// Slice k of n values over `ranks` ranks: [rank_slice_begin(n, ranks, k), rank_slice_begin(n, ranks, k + 1)).
SIGTRAIN_HD size_t rank_slice_begin(size_t n, int ranks, int k) { return n * size_t(k) / size_t(ranks); }
SIGTRAIN_HD size_t rank_slice_count(size_t n, int ranks, int k) {
  return rank_slice_begin(n, ranks, k + 1) - rank_slice_begin(n, ranks, k);
}

// Entry i of a slice summed over the ranks' copies in rank order; rank k's copy of the slice starts at
// received + k·stride.
SIGTRAIN_HD double sum_over_ranks_in_order(const double* received, int ranks, size_t stride, size_t i) {
  double total = received[i];
  for (int k = 1; k < ranks; ++k) total += received[size_t(k) * stride + i];
  return total;
}

}  // namespace sigtrain
