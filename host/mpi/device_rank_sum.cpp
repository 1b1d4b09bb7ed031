// Without NCCL there is no device sum: data-parallel runs sum on the host (communicator.cpp). With it,
// host/backends/cuda/nccl_rank_sum.cpp defines built_with_nccl and make_nccl_rank_sum.
#include "mpi/device_rank_sum.h"

#include "backends/backend.h"

namespace sigtrain {

bool nccl_fits_ranks(Communicator& comm) { return built_with_nccl() && comm.local_size() <= cuda_device_count(); }

#ifndef SIGTRAIN_HAVE_NCCL
bool built_with_nccl() { return false; }
std::unique_ptr<DeviceRankSum> make_nccl_rank_sum(Communicator&) { return nullptr; }
#endif

}  // namespace sigtrain
