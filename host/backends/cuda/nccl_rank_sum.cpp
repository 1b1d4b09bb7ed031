// NCCL's DeviceRankSum (mpi/device_rank_sum.h): the host MPI sum's algorithm (math/rank_sum.h) with
// the slices moved between GPUs by NCCL's point-to-point calls, so the order of every sum is fixed
// (NCCL's own all-reduce does not promise one): a grouped send/receive of every slice to its rank,
// the rank-order sum of the copies received (kernels/rank_sum.cu), and a grouped send/receive of the
// summed slices to every rank. Each rank sends to itself too, so one rank runs the whole path.
// Built where CMake found NCCL (SIGTRAIN_HAVE_NCCL); the communicator carries NCCL's unique id.
#ifdef SIGTRAIN_HAVE_NCCL
#include <nccl.h>

#include <algorithm>
#include <exception>
#include <string>
#include <type_traits>

#include "backends/cuda/device_buffer.h"
#include "math/rank_sum.h"
#include "mpi/device_rank_sum.h"
#include "rank_sum.h"

namespace sigtrain {

namespace {

void nccl_check(ncclResult_t result, const char* call) {
  if (result != ncclSuccess) throw CudaError(std::string("NCCL: ") + call + " failed: " + ncclGetErrorString(result));
}

class NcclRankSum : public DeviceRankSum {
 public:
  explicit NcclRankSum(Communicator& comm) : rank_(comm.rank()), ranks_(comm.size()) {
    // Rank 0's id, broadcast whether it was made or not (nothing: it failed), so no rank waits for it.
    ncclUniqueId id{};
    std::string made_id;
    ncclResult_t got = ncclSuccess;
    if (rank_ == 0 && (got = ncclGetUniqueId(&id)) == ncclSuccess)
      made_id.assign(reinterpret_cast<const char*>(&id), sizeof id);
    const std::string bytes = comm.broadcast(made_id);
    if (bytes.size() != sizeof id)
      throw CudaError(std::string("NCCL: no unique id from rank 0 (ncclGetUniqueId: ") +
                      (rank_ == 0 ? ncclGetErrorString(got) : "failed there") + ")");
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(&id));
    ncclComm_t made = nullptr;
    nccl_check(ncclCommInitRank(&made, ranks_, id, rank_), "ncclCommInitRank");
    comm_.reset(made);
  }

  std::string name() const override { return "NCCL " + std::to_string(NCCL_MAJOR) + "." + std::to_string(NCCL_MINOR); }

  void sum_in_rank_order(double* values, size_t n, void* stream_handle) override {
    if (n == 0) return;
    const auto stream = static_cast<cudaStream_t>(stream_handle);
    const size_t mine = rank_slice_count(n, ranks_, rank_);
    received_.reserve(std::max<size_t>(1, mine * size_t(ranks_)), "the slices of a sum over the ranks");
    summed_.reserve(std::max<size_t>(1, mine), "a summed slice");
    // Every rank's copy of this rank's slice (zero counts are left out on both sides alike).
    exchange([&](int k) {
      const size_t count = rank_slice_count(n, ranks_, k);
      if (count) nccl_check(ncclSend(values + rank_slice_begin(n, ranks_, k), count, ncclDouble, k, comm_.get(), stream), "ncclSend");
      if (mine) nccl_check(ncclRecv(received_.get() + size_t(k) * mine, mine, ncclDouble, k, comm_.get(), stream), "ncclRecv");
    });
    CUDA_CHECK(kernels::sum_over_ranks(received_.get(), ranks_, mine, summed_.get(), stream));
    // Every rank's summed slice, into its place.
    exchange([&](int k) {
      const size_t count = rank_slice_count(n, ranks_, k);
      if (mine) nccl_check(ncclSend(summed_.get(), mine, ncclDouble, k, comm_.get(), stream), "ncclSend");
      if (count) nccl_check(ncclRecv(values + rank_slice_begin(n, ranks_, k), count, ncclDouble, k, comm_.get(), stream), "ncclRecv");
    });
  }

 private:
  // One grouped round of point-to-point calls with every rank (NCCL runs them together).
  template <class WithRank>
  void exchange(WithRank&& with_rank) {
    nccl_check(ncclGroupStart(), "ncclGroupStart");
    try {
      for (int k = 0; k < ranks_; ++k) with_rank(k);
    } catch (...) {
      ncclGroupEnd();
      throw;
    }
    nccl_check(ncclGroupEnd(), "ncclGroupEnd");
  }

  // ncclCommDestroy is a collective of the ranks on a machine: on an error that reached one rank only
  // (its peers wait in the next sum), it would hang. While an exception unwinds, the communicator is
  // left to the process's end (MPI_Abort or exit, rank_errors.h); otherwise destroyed.
  struct Destroy {
    void operator()(ncclComm_t comm) const {
      if (std::uncaught_exceptions() == 0) ncclCommDestroy(comm);
    }
  };
  const int rank_, ranks_;
  DeviceBuffer<double> received_, summed_;  // (before the communicator: freed after it)
  std::unique_ptr<std::remove_pointer_t<ncclComm_t>, Destroy> comm_;
};

}  // namespace

bool built_with_nccl() { return true; }

std::unique_ptr<DeviceRankSum> make_nccl_rank_sum(Communicator& comm) { return std::make_unique<NcclRankSum>(comm); }

}  // namespace sigtrain
#endif
