// Without NCCL there is no device sum: data-parallel runs sum on the host (communicator.cpp). With it,
// host/backends/cuda/nccl_rank_sum.cpp defines these.
#include "mpi/device_rank_sum.h"

#ifndef SIGTRAIN_HAVE_NCCL
namespace sigtrain {

bool built_with_nccl() { return false; }
std::unique_ptr<DeviceRankSum> make_nccl_rank_sum(Communicator&) { return nullptr; }

}  // namespace sigtrain
#endif
