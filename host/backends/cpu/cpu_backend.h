// The cpu backend: fp32 on the host, the same math as the reference (DESIGN.md §1), laid out for
// speed. Activations are kept unit-major, A_l as n_l rows of contiguous samples (row-major n_l × ld),
// so every inner loop runs over the samples of the batch in vectors (cpu_kernels.h: AVX-512, AVX2 or
// plain, chosen at run time).
//
// Two ways through a batch, chosen by the network's size; both give the same bits for any number of
// threads, because the work is cut into pieces that do not depend on it and every sum runs in a
// fixed order:
// - small networks (few parameters): the batch in chunks of kChunk samples; each chunk goes through
//   forward and backward in one thread's cache-sized workspace and leaves its own partial gradient;
//   the partials are added in chunk order.
// - wide networks: layer by layer over the whole batch, each product cut into fixed tiles (of samples
//   for W·A and Wᵀ·Δ, of dW for Δ·Aᵀ) run by any thread.
// Products with a wide W_l go to cblas_sgemm where OpenBLAS is installed (cpu_blas.h), one tile per
// call, each on the thread that runs the tile. All buffers grow with the batch capacity only, never per
// step.
// A row's predicted logits do not depend on the rows predicted with it either: every sample column
// is computed alone, in whole vectors; predictions never take the sample-by-sample way of tiny training
// batches, and they choose BLAS by a layer's shape, not by how many samples a tile has.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/cpu_threads.h"
#include "backends/host_backend.h"

namespace sigtrain {

class RowPrefetcher;  // cpu_backend.cpp: prefetches the next chunk's rows a few at a time

// Floats on 64-byte boundaries: with row strides a multiple of kPadColumns, every row of a workspace
// starts a cache line, and no vector load straddles two.
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
  template <class U>
  bool operator!=(const CacheLineAllocator<U>&) const {
    return false;
  }
};
using FloatBuffer = std::vector<float, CacheLineAllocator<float>>;

class CpuBackend : public HostBackend {
 public:
  CpuBackend(const NetworkSpec& spec, const TrainingSetup& setup, int threads);
  // With given kernels (one of supported_cpu_kernels()), and BLAS only if `blas` and available: for
  // the tests, which compare every variant with the reference.
  CpuBackend(const NetworkSpec& spec, const TrainingSetup& setup, int threads, const CpuKernels& kernels, bool blas);

  std::string name() const override { return "cpu"; }
  void set_training_data(const Dataset& train) override;
  std::string description() const override;
  void set_parameters(const Parameters& p) override;
  Parameters parameters() const override;
  void set_optimizer_state(const OptimizerState& state) override;
  OptimizerState optimizer_state() const override;
  void begin_epoch(const EpochOrder& order) override;
  void train_step(size_t first, size_t count, double lr) override;
  void predict_logits(const float* x, size_t count, double* z) override;
  double loss_and_gradients(const Batch& batch, Parameters& grad) override;

  // Whether this network goes layer by layer over the whole batch (else in chunks), and whether the
  // products of its wide layers use BLAS: for tests and descriptions.
  bool layered() const { return layered_; }
  // Whether training chunks run cpu_kernels.h's static_chunk (a shape in CpuStaticShapes, not layered).
  bool trains_in_registers() const { return static_shape_ >= 0; }
  bool uses_blas() const { return blas_; }
  // Floats a workspace keeps per sample column (A_0 … A_L, Y, Δ_l, Δ_{l-1}).
  static size_t workspace_floats_per_column(const NetworkSpec& spec);
  // The bytes this backend allocates for a run of `batch`-sample steps over `training_rows` rows
  // (predicting in pieces of up to `prediction` samples): parameters, gradients, optimizer state,
  // workspaces, partial gradients, the packed training set. For the memory estimate
  // (train/memory_estimate.h), beside the code whose buffers it counts.
  static double estimated_bytes(const NetworkSpec& spec, size_t optimizer_slots, size_t batch, size_t prediction,
                                int threads, size_t training_rows);

 private:
  // Samples of one call: sample b is row rows[b] (row b when rows is null); its inputs start at
  // x + row·x_stride and its targets at y + row·y_stride (y null in predict, where Z_L goes to yhat,
  // nL × count column-major doubles, instead).
  struct Samples {
    const float* x = nullptr;
    size_t x_stride = 0;
    const float* y = nullptr;
    size_t y_stride = 0;
    const uint32_t* rows = nullptr;
    size_t rows_known = 0;  // rows past the batch, up to here, are the next step's: prefetched only
    double* yhat = nullptr;
  };
  // Buffers for `ld` sample columns: A_l (n_l × ld, A_[L] is Z_L), Y (nL × ld), Δ_l and Δ_{l-1} (max width × ld).
  struct Workspace {
    size_t ld = 0;
    std::vector<FloatBuffer> A;
    FloatBuffer Y, delta, delta_in;
    void resize(const NetworkSpec& spec, size_t columns);
  };

  void reserve(size_t batch);
  size_t prediction_piece(size_t count) const;  // samples predicted per pass
  const uint32_t* step_rows(size_t first, size_t known);
  // One pass over `count` samples: the forward pass, and with y the loss (returned, Σ over the batch)
  // and the gradient into grads_ (§1, averaged over count).
  double run(const Samples& s, size_t count);
  double run_chunked(const Samples& s, size_t count);
  template <class Act, class Head>
  double run_per_sample(const Samples& s, size_t count);
  double run_layered(const Samples& s, size_t count);

  // The steps of §1 on columns [col, col + cols) of a workspace.
  // With `prefetch`, some of the next chunk's rows are prefetched before each group of kPadColumns.
  void load(Workspace& w, size_t col, const Samples& s, size_t first, size_t cols,
            RowPrefetcher* prefetch = nullptr) const;
  // `predicting`: BLAS chosen by the layer's shape alone (use_blas_for_any_count), not by `cols`, so that
  // a row's logits do not depend on how many rows are predicted with it (BLAS sums in another order).
  void forward_layer(Workspace& w, int l, size_t col, size_t cols, bool predicting) const;
  void store_outputs(const Workspace& w, size_t col, const Samples& s, size_t first, size_t cols) const;
  float output_delta(Workspace& w, size_t col, size_t cols, size_t batch) const;
  void gradient(const Workspace& w, int l, int row, int rows, int input, int inputs, size_t cols, float* grad) const;
  void backward_layer(Workspace& w, int l, size_t col, size_t cols) const;
  // Forward, loss and backward of a whole chunk, its gradient into grad (a flat parameter vector);
  // meanwhile the rows of the chunk starting at sample `next` are prefetched.
  float chunk(Workspace& w, const Samples& s, size_t first, size_t cols, size_t batch, size_t next, float* grad) const;

  // One optimizer step at learning rate lr on grads_, over `threads` threads.
  void update(double lr, int threads);
  // Threads worth starting for `count` samples (1 for small batches: starting them costs more).
  int threads_for(size_t count) const;
  // Whether a product with a block of W_l's rows × inputs, over `samples` samples, goes to BLAS; and
  // whether it does over any number of samples (the block's shape alone).
  bool use_blas(int rows, int inputs, size_t samples) const;
  bool use_blas_for_any_count(int rows, int inputs) const;

  int threads_;
  const CpuKernels& kernels_;
  bool blas_;
  bool layered_;
  int static_shape_;  // cpu_static_shape's index, or −1: the layer-by-layer kernels
  size_t capacity_ = 0;                // the largest batch the buffers hold
  std::vector<float> params_, grads_;  // flat layout of network.h
  // The optimizer's state (model.h's OptimizerState in fp32: slot-major, kSlots × P) and its step count t.
  std::vector<float> optimizer_values_;
  uint64_t optimizer_steps_ = 0;
  std::vector<float> zeros_;           // what load() puts in the padding columns
  std::vector<uint32_t> rows_;         // the step's rows of the training set, and the next step's
  size_t rows_first_ = 0, rows_count_ = 0;  // rows_ holds the rows of positions [first, first + count)
  std::vector<Workspace> chunk_work_;  // chunked: one workspace of kChunk columns per thread
  FloatBuffer chunk_grads_;            // chunked: a partial gradient per chunk (chunks × parameters)
  // run_per_sample: a_l and Δ_l of one sample (l = 0 … L), and where each layer's W_l and b_l lie.
  struct SampleLayer {
    size_t weights, bias;
    int n_in, n_out;
  };
  std::vector<SampleLayer> sample_layers_;
  std::vector<float> sample_work_;
  std::vector<float> chunk_loss_;      // the loss of each chunk (layered: of each tile of samples)
  Workspace batch_work_;               // layered: the whole batch
  CpuThreads pool_;                    // threads_ − 1 workers
  // The training set packed for random access (set_training_data): each sample's inputs and targets
  // side by side, in memory the kernel may map with 2 MiB pages. Empty for samples over a cache line.
  struct FreeDeleter {
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], FreeDeleter> packed_;
  size_t packed_stride_ = 0;
};

}  // namespace sigtrain
