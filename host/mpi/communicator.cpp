// The job's ranks (communicator.h): one process, or MPI's world. This file is the only one that calls
// MPI; it is compiled with MPI's headers where the build found MPI (SIGTRAIN_HAVE_MPI).
#include "mpi/communicator.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#ifdef SIGTRAIN_HAVE_MPI
#include <mpi.h>

#include <climits>
#include <cstdint>

#include "math/rank_sum.h"
#endif

namespace sigtrain {

namespace {

// One rank: every collective is a copy of this rank's own.
class SingleProcess : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  void barrier() override {}
  std::vector<std::string> all_gather(const std::string& mine) override { return {mine}; }
  std::string broadcast(const std::string& mine, int) override { return mine; }
  void sum_in_rank_order(double*, size_t) override {}
};

#ifdef SIGTRAIN_HAVE_MPI

// Started by a launcher: Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, Slurm's srun PMI_SIZE (PMI-2)
// or PMIX_RANK (PMIx), MPICH's hydra PMI_RANK. A plain `sigtrain train` has none of them and never
// pays for MPI_Init.
bool started_by_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

void check(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, size_t(length)));
}

// MPI counts are int: a message past 2 GiB is refused with a clear error rather than cut.
int as_count(size_t n, const char* what) {
  if (n > size_t(INT_MAX)) throw std::runtime_error(std::string(what) + ": more than 2 GiB in one message");
  return int(n);
}

class MpiWorld : public Communicator {
 public:
  MpiWorld() {
    // MPI is called only from the thread that made the communicator (the trainer's threads never call
    // it): FUNNELED is all that is needed.
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // Errors come back as codes (and become exceptions here) rather than aborting the job inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
          "MPI_Comm_split_type");
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
  }
  ~MpiWorld() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  std::vector<std::string> all_gather(const std::string& mine) override {
    const std::vector<int> counts = all_counts(mine.size());
    const std::vector<int> offsets = offsets_of(counts);
    std::string all(size_t(offsets.back()) + size_t(counts.back()), '\0');
    check(MPI_Allgatherv(mine.data(), counts[size_t(rank_)], MPI_BYTE, all.data(), counts.data(), offsets.data(),
                         MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    return split(all, counts, offsets);
  }

  std::vector<std::string> gather(const std::string& mine, int root) override {
    const int count = as_count(mine.size(), "gather");
    std::vector<int> counts(size_t(size_), 0);
    check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "MPI_Gather");
    std::vector<int> offsets;
    std::string all;
    if (rank_ == root) {
      offsets = offsets_of(counts);
      all.resize(size_t(offsets.back()) + size_t(counts.back()));
    }
    check(MPI_Gatherv(mine.data(), count, MPI_BYTE, all.data(), counts.data(), offsets.data(), MPI_BYTE, root,
                      MPI_COMM_WORLD),
          "MPI_Gatherv");
    if (rank_ != root) return {};
    return split(all, counts, offsets);
  }

  std::string broadcast(const std::string& mine, int root) override {
    unsigned long long length = mine.size();
    check(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, root, MPI_COMM_WORLD), "MPI_Bcast");
    std::string bytes = rank_ == root ? mine : std::string(size_t(length), '\0');
    check(MPI_Bcast(bytes.data(), as_count(bytes.size(), "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    return bytes;
  }

  // A reduce-scatter then an all-gather, each by hand: rank k receives every rank's values of its slice
  // k (MPI_Alltoallv), sums them itself in rank order (((r0 + r1) + r2) + …), and the summed slices go to
  // every rank (MPI_Allgatherv). Each element is summed by one rank in one fixed order, so the bits are
  // those of a serial sum in rank order on every rank; the traffic is that of a ring all-reduce (2n
  // per rank) and the memory n doubles beside the values.
  // math/rank_sum.h's reduce-scatter (MPI_Alltoallv of the slices), each slice summed in rank order,
  // and all-gather (MPI_Allgatherv): the same code as the device's (kernels/rank_sum.cu).
  void sum_in_rank_order(double* values, size_t n) override {
    if (size_ == 1 || n == 0) return;
    as_count(n, "sum_in_rank_order");
    const size_t ranks = size_t(size_);
    std::vector<int> slice_counts(ranks), slice_offsets(ranks);
    for (int k = 0; k < size_; ++k) {
      slice_offsets[size_t(k)] = int(rank_slice_begin(n, size_, k));
      slice_counts[size_t(k)] = int(rank_slice_count(n, size_, k));
    }
    const int mine = slice_counts[size_t(rank_)];
    std::vector<double> received(size_t(mine) * ranks);
    std::vector<int> receive_counts(ranks, mine), receive_offsets(ranks);
    for (int k = 0; k < size_; ++k) receive_offsets[size_t(k)] = k * mine;
    check(MPI_Alltoallv(values, slice_counts.data(), slice_offsets.data(), MPI_DOUBLE, received.data(),
                        receive_counts.data(), receive_offsets.data(), MPI_DOUBLE, MPI_COMM_WORLD),
          "MPI_Alltoallv");
    std::vector<double> summed(static_cast<size_t>(mine));
    for (size_t i = 0; i < summed.size(); ++i) summed[i] = sum_over_ranks_in_order(received.data(), size_, size_t(mine), i);
    check(MPI_Allgatherv(summed.data(), mine, MPI_DOUBLE, values, slice_counts.data(), slice_offsets.data(),
                         MPI_DOUBLE, MPI_COMM_WORLD),
          "MPI_Allgatherv");
  }

  [[noreturn]] void abort(int exit_code) override {
    std::fflush(nullptr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);  // (MPI_Abort does not return; should it, end anyway)
  }

 private:
  std::vector<int> all_counts(size_t mine) {
    const int count = as_count(mine, "all_gather");
    std::vector<int> counts(size_t(size_), 0);
    check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
    return counts;
  }
  static std::vector<int> offsets_of(const std::vector<int>& counts) {
    std::vector<int> offsets(counts.size(), 0);
    size_t total = 0;
    for (size_t k = 0; k < counts.size(); ++k) {
      offsets[k] = as_count(total, "gathered bytes");
      total += size_t(counts[k]);
    }
    as_count(total, "gathered bytes");
    return offsets;
  }
  static std::vector<std::string> split(const std::string& all, const std::vector<int>& counts,
                                        const std::vector<int>& offsets) {
    std::vector<std::string> parts(counts.size());
    for (size_t k = 0; k < counts.size(); ++k) parts[k] = all.substr(size_t(offsets[k]), size_t(counts[k]));
    return parts;
  }

  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

#endif  // SIGTRAIN_HAVE_MPI

std::unique_ptr<Communicator> make_world() {
#ifdef SIGTRAIN_HAVE_MPI
  if (started_by_launcher()) return std::make_unique<MpiWorld>();
#endif
  return std::make_unique<SingleProcess>();
}

}  // namespace

std::vector<std::string> Communicator::gather(const std::string& mine, int root) {
  std::vector<std::string> all = all_gather(mine);
  if (rank() != root) all.clear();
  return all;
}

void Communicator::abort(int exit_code) {
  std::fflush(nullptr);
  std::_Exit(exit_code);
}

namespace {
std::atomic<bool> g_world_made{false};
}  // namespace

// A function-local static: made on first use, destroyed (MPI_Finalize) when the program exits normally.
Communicator& world() {
  static const std::unique_ptr<Communicator> the_world = make_world();
  g_world_made.store(true);
  return *the_world;
}

bool world_made() { return g_world_made.load(); }

bool built_with_mpi() {
#ifdef SIGTRAIN_HAVE_MPI
  return true;
#else
  return false;
#endif
}

}  // namespace sigtrain
