// The cpu backend's inner loops (DESIGN.md §1 in fp32), compiled once per instruction set and chosen
// at run time, so that one binary runs on any x86-64 and uses AVX2 or AVX-512 where the processor
// has them: cpu_kernels_avx512.cpp, cpu_kernels_avx2.cpp and cpu_kernels_generic.cpp each compile
// cpu_kernels_impl.h for their own vector width.
//
// Every matrix is a "panel" of rows: row r starts at p + r·ld and holds consecutive samples (the
// unit-major layout of cpu_backend.h), or consecutive inputs for W_l (row-major n_l × n_{l-1}).
// Kernels over samples process `cols` columns rounded up to kPadColumns: callers give buffers whose
// rows are that long, with finite values in the padding (zeros from the loader), and the kernels
// make every padding column of Δ exactly 0, so padding never reaches a gradient or a loss.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sigtrain {

// activation.h's and loss.h's enums, declared without their headers: the variants include those only
// after their target pragma (cpu_kernels_impl.h), so that the policies' templates compile for them.
enum class Activation : uint8_t;
enum class Loss : uint8_t;
struct EpochShuffle;  // math/epoch_shuffle.h

// Sample columns are processed in whole vectors of the widest instruction set: buffers are padded to it.
constexpr size_t kPadColumns = 16;
inline size_t padded_columns(size_t cols) { return (cols + kPadColumns - 1) / kPadColumns * kPadColumns; }

// A training chunk of a network whose shape is in CpuStaticShapes (cpu_static_shapes.h), at `shape`
// in that list: its inputs A_0 (n_0 rows) and targets Y (n_L rows), `cols` columns of row stride ld
// with zeros in the padding, as the layered kernels take them.
struct StaticChunk {
  int shape;  // cpu_static_shape's index
  bool bias;
  Activation hidden, output;
  Loss loss;
  const float* theta;  // P floats, network.h's flat layout
  const float* A0;
  const float* Y;
  size_t ld, cols;
  float inv_B;  // 1/B for the step's batch of B samples
  float* grad;  // out: the chunk's Σ of the samples' shares of dθ (P floats)
};

// Where the network of `layers` weight layers and widths[0 … layers] is in CpuStaticShapes, or −1.
int cpu_static_shape(int layers, const int* widths);

// Each kernel takes its policies (activation.h, loss.h) as enums and chooses the instantiation once
// per call, never per element. The output layer passes Activation::linear: it keeps its logits Z_L.
struct CpuKernels {
  const char* name;  // "avx512", "avx2", "generic"
  int lanes;         // floats per vector

  // A = f(W A_in + b) (§1 forward) for the activation f: out[i][c] for i < n_out; W is n_out × n_in
  // row-major; b may be null.
  void (*forward)(const float* W, const float* b, int n_out, int n_in, const float* A_in, size_t ld_in, float* out,
                  size_t ld_out, size_t cols, Activation f);
  // Δ_in = (Wᵀ Δ) ⊙ f'(A_in) (§1 backward, one layer down; f' from the outputs A_in = f(Z_in), as
  // activation.h's grad_from_output): d_in[j][c] for j < n_in.
  void (*backward)(const float* W, int n_out, int n_in, const float* D, size_t ld_d, const float* A_in, size_t ld_a,
                   float* d_in, size_t ld_din, size_t cols, Activation f);
  // dW = Δ A_inᵀ and db = Δ 1 (§1, sums over the samples): dW[i][j] = Σ_c D[i][c] A_in[j][c] for
  // i < rows, j < n_in (row stride ld_w); db[i] = Σ_c D[i][c] when db is not null. Overwrites.
  void (*gradient)(const float* D, size_t ld_d, int rows, const float* A_in, size_t ld_a, int n_in, size_t cols,
                   float* dW, size_t ld_w, float* db);
  // The head H of (loss, output) on the logits Z (loss.h): Δ_L = (1/B) H::delta(Z, Y) for the first
  // `cols` columns and 0 in the padding; returns Σ H::value(Z, Y) over them.
  float (*output_delta)(const float* Z, size_t ld_z, const float* Y, size_t ld_y, int n_out, size_t cols, float inv_B,
                        float* D, size_t ld_d, Loss loss, Activation output);
  // The elementwise halves of forward and backward, after a BLAS product: Z ← f(Z + b) and
  // D ← D ⊙ f'(A), on rows × cols.
  void (*bias_activation)(float* Z, size_t ld_z, const float* b, int rows, size_t cols, Activation f);
  void (*times_activation_grad)(float* D, size_t ld_d, const float* A, size_t ld_a, int rows, size_t cols,
                                Activation f);
  // y[k] = f(x[k]) for k < n (any n), the vector activation every kernel above uses; for the tests.
  void (*activation)(Activation f, const float* x, float* y, size_t n);
  // rows[i] = s.row(first + i) for i < count (math/epoch_shuffle.h), the Feistel network on a vector
  // of positions at a time; data/epoch_order.h's epoch_rows, for every caller on the host.
  void (*epoch_rows)(const EpochShuffle& s, size_t first, size_t count, uint32_t* rows);
  // The whole of §1 for a chunk of a network of a compiled shape, kLanes samples at a time with every
  // layer's values in registers (what forward, output_delta, backward and gradient do layer by layer,
  // storing each A_l and Δ_l of the chunk): job.grad = the chunk's dθ; returns Σ ℓ over its columns.
  float (*static_chunk)(const StaticChunk& job);
};

// terms[k] = BinaryCrossEntropy::value(z[k], y[k]) for k < n, in scalar fp32 (libm's log1p and exp):
// the variants have no vector logarithm, and bce is not the default. Generic code, shared by all.
void binary_cross_entropy_terms(const float* z, const float* y, float* terms, int n);

// The fastest variant this processor runs (chosen once).
const CpuKernels& cpu_kernels();
// Every variant this processor runs, fastest first (the tests compare them all with the reference).
std::vector<const CpuKernels*> supported_cpu_kernels();

}  // namespace sigtrain
