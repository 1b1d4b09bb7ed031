#include "backends/cpu/cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <utility>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "backends/cpu/cpu_blas.h"
#include "data/epoch_order.h"
#include "math/sample_math.h"

namespace sigtrain {

namespace {

// Samples per chunk (small networks): a multiple of kPadColumns, and fixed, so that the chunks, and
// with them the order of every sum, are the same for any number of threads. 256 samples of a small
// network fit in the first-level cache.
constexpr size_t kChunk = 256;
// Positions of the epoch's order computed at once: a small batch's rows come from a window made every
// few hundred steps, not from a vector of positions made (and mostly wasted) every step.
constexpr size_t kRowWindow = 512;
// A batch of one prefetches the row this many steps ahead (into the first-level cache: measured, batch
// 1 shuffled over 2.8 M samples: 1 ahead 7.5 M samples/s, 4 ahead 8.6 M, 8 8.4 M, 16 8.5 M, none 4.5–4.8
// M; into the second level, as the chunks do, it bought nothing here).
constexpr size_t kRowsAhead = 4;
static_assert(kRowsAhead <= kRowWindow / 2, "rows_ (max(2·batch, kRowWindow)) holds a batch and the rows ahead");
// Networks with more parameters go layer by layer: a partial gradient per chunk would be too large,
// and their products are big enough to split by themselves.
constexpr size_t kChunkedMaxParameters = 65536;
// Tiles of the layered way, which depend on the batch size and the layer's shape only, never on the
// thread count: W·A and Wᵀ·Δ in about kTiles tiles of samples (128 to 1024 of them; fewer tiles for
// small batches), Δ·Aᵀ in about kTiles tiles of dW, halving its longer side while that is at least
// 256 (OpenBLAS on 1024 × 1024 × 4096: 512 × 512 tiles 145 GFLOPS, 256-row strips 140, 128 × 128 114).
constexpr size_t kTiles = 4;
size_t column_tile(size_t count) {
  return std::clamp<size_t>(padded_columns((count + kTiles - 1) / kTiles), 128, 1024);
}
struct GradientTile {
  int rows, inputs;
};
GradientTile gradient_tile(int n_out, int n_in) {
  GradientTile t{n_out, n_in};
  const auto count = [&] { return size_t((n_out + t.rows - 1) / t.rows) * size_t((n_in + t.inputs - 1) / t.inputs); };
  while (count() < kTiles && std::max(t.rows, t.inputs) >= 256) {
    int& longer = t.rows >= t.inputs ? t.rows : t.inputs;
    longer = int(padded_columns(size_t(longer + 1) / 2));
  }
  return t;
}
// Products go to BLAS when W_l (or its tile) is at least kBlasMinWidth on both sides and they span at
// least kBlasMinSamples samples: below, the kernels here are as fast (64 × 64 × 256: within 10%).
constexpr int kBlasMinWidth = 128;
constexpr size_t kBlasMinSamples = 32;
// Multiply-adds per thread below which waking another thread costs more than it saves (2-3-3-1 with
// two threads: 1.2× at batch 512, the smallest with two chunks; 1.5× at 1024).
constexpr double kMinWorkPerThread = 4e4;
// Training batches below this many samples go sample by sample (run_per_sample): the kernels fill vectors of
// kPadColumns samples whatever the batch, so one sample costs them as much as 16. `sigtrain bench
// --no-shuffle --backends cpu-1`, samples/s chunked → per sample: 2-3-3-1 at batch 1 3.6 M → 7.3 M,
// at 2 7.2 M → 8.2 M, at 3 10.9 M → 8.1 M; 2-64-64-1 at 1 80 k → 104 k, at 2 159 k → 143 k.
constexpr size_t kPerSampleBelow = 2;
// The most a prediction piece's layered workspace takes (prediction_piece).
constexpr size_t kPredictWorkspaceBytes = size_t(64) << 20;
// Parameters per piece of the optimizer's update.
constexpr size_t kUpdateBlock = 1 << 16;
// Samples whose inputs and targets fit in a cache line get a packed copy of the training set, in
// memory aligned to (and a multiple of) a 2 MiB page.
constexpr size_t kMaxPackedFloats = 16;
constexpr size_t kHugePage = size_t(2) << 20;

size_t pieces(size_t count, size_t size) { return (count + size - 1) / size; }

// Whether some layer is wide enough for BLAS (kBlasMinWidth inputs and units).
bool has_wide_layer(const NetworkSpec& spec) {
  for (int l = 1; l <= spec.num_layers(); ++l)
    if (std::min(spec.widths[l - 1], spec.widths[l]) >= kBlasMinWidth) return true;
  return false;
}

// Prefetches a sample's record: its inputs, and its targets where they lie elsewhere (packed: the
// record's end, which may start the next cache line). Locality 2: into the second-level cache, 3: the first.
template <int Locality>
void prefetch_row(const float* x, size_t x_stride, const float* y, size_t y_stride, size_t row) {
  __builtin_prefetch(x + row * x_stride, 0, Locality);
  if (y) __builtin_prefetch(y + row * y_stride, 0, Locality);
}

}  // namespace

// Prefetches the rows of samples [from, to) into the second-level cache in `calls` portions.
class RowPrefetcher {
 public:
  RowPrefetcher(const float* x, size_t x_stride, const float* y, size_t y_stride, const uint32_t* rows, size_t from,
                size_t to, int calls)
      : x_(x),
        y_(y),
        x_stride_(x_stride),
        y_stride_(y_stride),
        rows_(rows),
        next_(from),
        end_(std::max(from, to)),
        per_call_((end_ - from + calls - 1) / std::max(calls, 1)) {}
  void some() {
    for (const size_t stop = std::min(end_, next_ + per_call_); next_ < stop; ++next_)
      prefetch_row<2>(x_, x_stride_, y_, y_stride_, rows_[next_]);
  }

 private:
  const float *x_, *y_;
  size_t x_stride_, y_stride_;
  const uint32_t* rows_;
  size_t next_, end_, per_call_;
};

void CpuBackend::FreeDeleter::operator()(float* p) const { std::free(p); }

// Each step gathers its batch from random rows of the training set, which for a small network costs
// more than the arithmetic: a copy with inputs and targets side by side needs one cache line per
// sample instead of two, and 2 MiB pages (where the kernel grants them) spare a page walk per sample.
void CpuBackend::set_training_data(const Dataset& train) {
  HostBackend::set_training_data(train);
  packed_.reset();
  packed_stride_ = size_t(train.inputs + train.outputs);
  if (packed_stride_ > kMaxPackedFloats || train.size == 0) return;
  const size_t bytes = (train.size * packed_stride_ * sizeof(float) + kHugePage - 1) / kHugePage * kHugePage;
  packed_.reset(static_cast<float*>(std::aligned_alloc(kHugePage, bytes)));
  if (!packed_) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  madvise(packed_.get(), bytes, MADV_HUGEPAGE);  // a hint: without it the copy still works, on 4 KiB pages
#endif
  // Field by field: a few floats per sample, where a copy call per sample would cost more than the copy.
  const auto pack = [&](const float* from, int fields, int offset) {
    for (int f = 0; f < fields; ++f)
      for (size_t s = 0; s < train.size; ++s) packed_[s * packed_stride_ + offset + f] = from[s * fields + f];
  };
  pack(train.x.data(), train.inputs, 0);
  pack(train.y.data(), train.outputs, train.inputs);
}

size_t CpuBackend::workspace_floats_per_column(const NetworkSpec& spec) {
  size_t floats = size_t(spec.outputs()) + 2 * size_t(spec.max_width());  // Y, Δ_l and Δ_{l-1}
  for (int width : spec.widths) floats += size_t(width);                  // A_0 … A_L
  return floats;
}

double CpuBackend::estimated_bytes(const NetworkSpec& spec, size_t optimizer_slots, size_t batch, size_t prediction,
                                   int threads, size_t training_rows) {
  const double P = double(spec.parameter_count()), column = double(sizeof(float) * workspace_floats_per_column(spec));
  double bytes = double(sizeof(float)) * P * double(2 + optimizer_slots);  // params_, grads_, optimizer_values_
  if (spec.parameter_count() > kChunkedMaxParameters) {                    // layered: batch_work_ (reserve)
    const size_t affordable = kPredictWorkspaceBytes / size_t(column);
    const size_t capacity = std::max(batch, std::min<size_t>({prediction, 4096, std::max(affordable, kPadColumns)}));
    bytes += column * double(padded_columns(capacity) + kPadColumns);
  } else {  // chunked: a workspace per thread, a partial gradient per chunk of the largest batch
    const size_t capacity = std::max(batch, std::min<size_t>(prediction, 4096));
    bytes += column * double(kChunk) * double(std::max(threads, 1)) +
             double(sizeof(float)) * P * double(pieces(capacity, kChunk));
  }
  bytes += double(sizeof(uint32_t)) * double(std::max(2 * batch, kRowWindow));  // rows_
  // packed_: whole 2 MiB pages (the allocator may reserve up to one more to align them, never touched).
  const size_t row = size_t(spec.inputs() + spec.outputs());
  if (row <= kMaxPackedFloats) bytes += double(kHugePage) * double(pieces(sizeof(float) * row * training_rows, kHugePage));
  return bytes;
}

void CpuBackend::Workspace::resize(const NetworkSpec& spec, size_t columns) {
  ld = padded_columns(columns);
  // Rows a multiple of 1 KiB apart fall into the same few cache sets: one cache line of skew avoids that.
  if (ld % 256 == 0) ld += kPadColumns;
  A.resize(spec.widths.size());
  for (size_t l = 0; l < A.size(); ++l) A[l].assign(size_t(spec.widths[l]) * ld, 0.0f);
  Y.assign(size_t(spec.outputs()) * ld, 0.0f);
  delta.assign(size_t(spec.max_width()) * ld, 0.0f);
  delta_in.assign(delta.size(), 0.0f);
}

CpuBackend::CpuBackend(const NetworkSpec& spec, const TrainingSetup& setup, int threads)
    : CpuBackend(spec, setup, threads, cpu_kernels(), true) {}

CpuBackend::CpuBackend(const NetworkSpec& spec, const TrainingSetup& setup, int threads, const CpuKernels& kernels,
                       bool blas)
    : HostBackend(spec, setup),
      threads_(std::max(1, threads)),
      kernels_(kernels),
      blas_(blas && has_wide_layer(spec) && cpu_blas_available()),  // loads OpenBLAS only where it is used
      layered_(spec.parameter_count() > kChunkedMaxParameters),
      static_shape_(layered_ ? -1 : cpu_static_shape(spec.num_layers(), spec.widths.data())),
      params_(spec.parameter_count()),
      grads_(spec.parameter_count()),
      optimizer_values_(size_t(optimizer_slots(setup.optimizer.kind)) * spec.parameter_count(), 0.0f),
      zeros_(size_t(std::max(spec.inputs(), spec.outputs())), 0.0f),
      pool_(threads_) {
  sample_work_.resize(2 * size_t(spec.num_layers() + 1) * size_t(spec.max_width()));
  for (int l = 1; l <= spec.num_layers(); ++l)
    sample_layers_.push_back({spec.weight_offset(l), spec.bias_offset(l), spec.widths[l - 1], spec.widths[l]});
}

std::string CpuBackend::description() const {
  std::string s = "cpu (fp32, " + std::string(kernels_.name) + ", " + std::to_string(threads_) +
                  (threads_ == 1 ? " thread" : " threads");
  if (layered_ && blas_) s += ", OpenBLAS";
  return s + ")";
}

void CpuBackend::set_parameters(const Parameters& p) {
  p.check_spec(spec());
  params_ = p.to_float();
}

Parameters CpuBackend::parameters() const { return Parameters::from_float(spec(), params_.data()); }

void CpuBackend::set_optimizer_state(const OptimizerState& state) {
  check_optimizer_state(state, setup().optimizer.kind, params_.size());
  optimizer_steps_ = state.steps;
  optimizer_values_ = state.to_float(optimizer_values_.size());
}

OptimizerState CpuBackend::optimizer_state() const {
  return OptimizerState::from_float(optimizer_steps_, optimizer_values_);
}

void CpuBackend::reserve(size_t batch) {
  if (batch <= capacity_) return;
  check_backend_limits({0, batch, 0});  // the GEMMs take the padded column count as an int
  capacity_ = batch;
  rows_.resize(std::max(2 * batch, kRowWindow));
  if (layered_) {
    batch_work_.resize(spec(), batch);
    chunk_loss_.resize(pieces(batch, column_tile(0)));  // no tile is narrower than column_tile(0)
  } else {
    if (chunk_work_.empty()) {
      chunk_work_.resize(threads_);
      for (Workspace& w : chunk_work_) w.resize(spec(), kChunk);
    }
    chunk_grads_.resize(pieces(batch, kChunk) * params_.size());
    chunk_loss_.resize(pieces(batch, kChunk));
  }
}

int CpuBackend::threads_for(size_t count) const {
  if (threads_ == 1) return 1;
  int hidden_units = 0;
  for (int l = 1; l < spec().num_layers(); ++l) hidden_units += spec().widths[l];
  // Three products per weight, and a sigmoid costs about twenty.
  const double work = double(count) * (3.0 * double(params_.size()) + 20.0 * hidden_units);
  const double most = layered_ ? threads_ : std::min<double>(threads_, double(pieces(count, kChunk)));
  return int(std::max(1.0, std::min(most, work / kMinWorkPerThread)));
}

bool CpuBackend::use_blas_for_any_count(int rows, int inputs) const {
  return blas_ && std::min(rows, inputs) >= kBlasMinWidth;
}

bool CpuBackend::use_blas(int rows, int inputs, size_t samples) const {
  return use_blas_for_any_count(rows, inputs) && samples >= kBlasMinSamples;
}

// A_0 = X and Y (§1): columns [col, col + cols) get samples first … first + cols − 1, and the padding
// columns after them zeros (from zeros_), so that everything the kernels compute there stays finite.
// Samples are taken kPadColumns at a time, so that each row of A_0 is written a whole cache line at a
// time.
void CpuBackend::load(Workspace& w, size_t col, const Samples& s, size_t first, size_t cols,
                      RowPrefetcher* prefetch) const {
  const int n0 = spec().inputs(), nL = spec().outputs();
  const auto row_of = [&](size_t b) { return s.rows ? size_t(s.rows[b]) : b; };
  for (size_t b0 = 0; b0 < cols; b0 += kPadColumns) {
    const size_t n = std::min(kPadColumns, cols - b0);
    if (prefetch) prefetch->some();
    const float* x[kPadColumns];
    const float* y[kPadColumns];
    for (size_t k = 0; k < kPadColumns; ++k) {
      const size_t row = k < n ? row_of(first + b0 + k) : 0;
      x[k] = k < n ? s.x + row * s.x_stride : zeros_.data();
      y[k] = k < n && s.y ? s.y + row * s.y_stride : zeros_.data();
    }
    for (int j = 0; j < n0; ++j) {
      float* a = w.A[0].data() + size_t(j) * w.ld + col + b0;
      for (size_t k = 0; k < kPadColumns; ++k) a[k] = x[k][j];
    }
    if (s.y)
      for (int o = 0; o < nL; ++o) {
        float* t = w.Y.data() + size_t(o) * w.ld + col + b0;
        for (size_t k = 0; k < kPadColumns; ++k) t[k] = y[k][o];
      }
  }
}

// A_l = f(W_l A_{l-1} + b_l), or the logits Z_L = W_L A_{L-1} + b_L for the output layer (§1).
void CpuBackend::forward_layer(Workspace& w, int l, size_t col, size_t cols, bool predicting) const {
  const int n_in = spec().widths[l - 1], n_out = spec().widths[l];
  const Activation f = l < spec().num_layers() ? spec().hidden : Activation::linear;
  const float* W = params_.data() + spec().weight_offset(l);
  const float* b = spec().bias ? params_.data() + spec().bias_offset(l) : nullptr;
  const float* A_in = w.A[l - 1].data() + col;
  float* out = w.A[l].data() + col;
  if (predicting ? use_blas_for_any_count(n_out, n_in) : use_blas(n_out, n_in, cols)) {
    cpu_sgemm(false, false, n_out, int(padded_columns(cols)), n_in, W, n_in, A_in, w.ld, out, w.ld);  // W A
    kernels_.bias_activation(out, w.ld, b, n_out, cols, f);
  } else {
    kernels_.forward(W, b, n_out, n_in, A_in, w.ld, out, w.ld, cols, f);
  }
}

void CpuBackend::store_outputs(const Workspace& w, size_t col, const Samples& s, size_t first, size_t cols) const {
  const int nL = spec().outputs();
  const float* yhat = w.A[spec().num_layers()].data() + col;
  for (size_t b = 0; b < cols; ++b)
    for (int o = 0; o < nL; ++o) s.yhat[(first + b) * nL + o] = yhat[size_t(o) * w.ld + b];
}

// Σ ℓ(Z_L, Y) over the columns, and Δ_L = (1/B) dℓ/dz with B the whole batch (the head of loss.h;
// mse on a linear output: Σ (Ŷ − Y)² and (2/B)(Ŷ − Y), §1).
float CpuBackend::output_delta(Workspace& w, size_t col, size_t cols, size_t batch) const {
  return kernels_.output_delta(w.A[spec().num_layers()].data() + col, w.ld, w.Y.data() + col, w.ld, spec().outputs(),
                               cols, 1.0f / float(batch), w.delta.data() + col, w.ld, setup().loss, spec().output);
}

// dW_l = Δ_l A_{l-1}ᵀ and db_l = Δ_l 1 (§1), summed over the first `cols` columns: the block of rows
// [row, row + rows) × inputs [input, input + inputs) of dW_l (with those rows of db_l when input is 0),
// written into `grad`, a flat parameter vector.
void CpuBackend::gradient(const Workspace& w, int l, int row, int rows, int input, int inputs, size_t cols,
                          float* grad) const {
  const int n_in = spec().widths[l - 1];
  const float* D = w.delta.data() + size_t(row) * w.ld;
  const float* A_in = w.A[l - 1].data() + size_t(input) * w.ld;
  float* dW = grad + spec().weight_offset(l) + size_t(row) * n_in + input;
  float* db = spec().bias && input == 0 ? grad + spec().bias_offset(l) + row : nullptr;
  if (use_blas(rows, inputs, cols)) {
    cpu_sgemm(false, true, rows, inputs, int(padded_columns(cols)), D, w.ld, A_in, w.ld, dW, n_in);  // Δ A_inᵀ
    if (db) kernels_.gradient(D, w.ld, rows, A_in, w.ld, 0, cols, nullptr, 0, db);                   // Δ 1 alone
  } else {
    kernels_.gradient(D, w.ld, rows, A_in, w.ld, inputs, cols, dW, n_in, db);
  }
}

// Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(A_{l-1}) (§1; σ' = A ⊙ (1 − A)), into delta_in.
void CpuBackend::backward_layer(Workspace& w, int l, size_t col, size_t cols) const {
  const int n_in = spec().widths[l - 1], n_out = spec().widths[l];
  const float* W = params_.data() + spec().weight_offset(l);
  const float* D = w.delta.data() + col;
  const float* A_in = w.A[l - 1].data() + col;
  float* D_in = w.delta_in.data() + col;
  if (use_blas(n_out, n_in, cols)) {
    cpu_sgemm(true, false, n_in, int(padded_columns(cols)), n_out, W, n_in, D, w.ld, D_in, w.ld);  // Wᵀ Δ
    kernels_.times_activation_grad(D_in, w.ld, A_in, w.ld, n_in, cols, spec().hidden);
  } else {
    kernels_.backward(W, n_out, n_in, D, w.ld, A_in, w.ld, D_in, w.ld, cols, spec().hidden);
  }
}

// While a chunk computes, the rows of the chunk its thread takes next (starting at sample `next`, maybe
// in the next step) are prefetched into the second-level cache, a few before each group of kPadColumns
// of its own rows is gathered and a few between its layers: a core has only about 16 misses in
// flight, so asked for all at once they would stall it instead (spread over the gather too, ~3% more
// samples/s than between the layers alone: bench/README).
float CpuBackend::chunk(Workspace& w, const Samples& s, size_t first, size_t cols, size_t batch, size_t next,
                        float* grad) const {
  const int L = spec().num_layers();
  // A network of a compiled shape trains in registers (cpu_kernels.h's static_chunk): its prefetches
  // all go with the gather.
  const bool in_registers = static_shape_ >= 0 && s.y;
  const int calls = int(pieces(cols, kPadColumns)) + (in_registers ? 0 : 3 * L);
  RowPrefetcher prefetch(s.x, s.x_stride, s.y, s.y_stride, s.rows, next, std::min(next + kChunk, s.rows_known), calls);
  load(w, 0, s, first, cols, &prefetch);
  if (in_registers) {
    const StaticChunk job{static_shape_, spec().bias, spec().hidden,   spec().output, setup().loss,  params_.data(),
                          w.A[0].data(), w.Y.data(), w.ld,           cols,          1.0f / float(batch), grad};
    return kernels_.static_chunk(job);
  }
  for (int l = 1; l <= L; ++l) {
    prefetch.some();
    forward_layer(w, l, 0, cols, !s.y);
  }
  if (s.yhat) store_outputs(w, 0, s, first, cols);
  if (!s.y) return 0.0f;
  const float loss = output_delta(w, 0, cols, batch);
  for (int l = L; l >= 1; --l) {
    prefetch.some();
    gradient(w, l, 0, spec().widths[l], 0, spec().widths[l - 1], cols, grad);
    if (l == 1) break;  // no Δ_0: the inputs are data
    prefetch.some();
    backward_layer(w, l, 0, cols);
    w.delta.swap(w.delta_in);
  }
  return loss;
}

double CpuBackend::run_chunked(const Samples& s, size_t count) {
  const size_t chunks = pieces(count, kChunk), P = params_.size();
  // A single chunk writes its gradient straight into grads_; several write partials, added below.
  float* partial = chunks == 1 ? grads_.data() : chunk_grads_.data();
  // Each thread takes a run of consecutive chunks, and prefetches the rows of its next one: the next in
  // its run, or the first of the same run in the next step (prefetched rows stay in its core's cache).
  const int threads = threads_for(count);
  const size_t run_length = pieces(chunks, size_t(threads));
  pool_.run(threads, pieces(chunks, run_length), [&](size_t r, int thread) {
    const size_t begin = r * run_length, end = std::min(chunks, begin + run_length);
    for (size_t c = begin; c < end; ++c) {
      const size_t first = c * kChunk, next = c + 1 < end ? first + kChunk : count + begin * kChunk;
      chunk_loss_[c] =
          chunk(chunk_work_[thread], s, first, std::min(kChunk, count - first), count, next, partial + c * P);
    }
  });
  if (s.y && chunks > 1)
    pool_.run(threads, pieces(P, kUpdateBlock), [&](size_t t, int) {
      // grads_ = Σ_c partial_c, each parameter summed in chunk order.
      const size_t k0 = t * kUpdateBlock, k1 = std::min(P, k0 + kUpdateBlock);
      std::copy(partial + k0, partial + k1, grads_.data() + k0);
      for (size_t c = 1; c < chunks; ++c)
        for (size_t k = k0; k < k1; ++k) grads_[k] += partial[c * P + k];
    });
  double loss = 0.0;
  for (size_t c = 0; c < chunks; ++c) loss += chunk_loss_[c];
  return loss;
}

double CpuBackend::run_layered(const Samples& s, size_t count) {
  Workspace& w = batch_work_;
  const int L = spec().num_layers(), threads = threads_for(count);
  const size_t tile = column_tile(count), tiles = pieces(count, tile);
  const auto columns = [&](size_t t) { return std::min(tile, count - t * tile); };
  pool_.run(threads, tiles, [&](size_t t, int) { load(w, t * tile, s, t * tile, columns(t)); });
  for (int l = 1; l <= L; ++l)
    pool_.run(threads, tiles, [&](size_t t, int) { forward_layer(w, l, t * tile, columns(t), !s.y); });
  if (s.yhat) store_outputs(w, 0, s, 0, count);
  if (!s.y) return 0.0;
  pool_.run(threads, tiles, [&](size_t t, int) { chunk_loss_[t] = output_delta(w, t * tile, columns(t), count); });
  for (int l = L; l >= 1; --l) {
    const int n_out = spec().widths[l], n_in = spec().widths[l - 1];
    const GradientTile g = gradient_tile(n_out, n_in);
    const size_t input_tiles = pieces(size_t(n_in), size_t(g.inputs));
    pool_.run(threads, pieces(size_t(n_out), size_t(g.rows)) * input_tiles, [&](size_t t, int) {
      const int row = int(t / input_tiles) * g.rows, input = int(t % input_tiles) * g.inputs;
      gradient(w, l, row, std::min(g.rows, n_out - row), input, std::min(g.inputs, n_in - input), count, grads_.data());
    });
    if (l == 1) break;
    pool_.run(threads, tiles, [&](size_t t, int) { backward_layer(w, l, t * tile, columns(t)); });
    w.delta.swap(w.delta_in);
  }
  double loss = 0.0;
  for (size_t t = 0; t < tiles; ++t) loss += chunk_loss_[t];
  return loss;
}

double CpuBackend::run(const Samples& s, size_t count) {
  // Training only: its per-sample arithmetic (sample_math.h: the bias added first, libm's exp) is not the
  // kernels', and a row's prediction must not depend on how many rows come with it.
  if (count < kPerSampleBelow && s.y)
    return with_activation(spec().hidden, [&](auto act) {
      return with_head(setup().loss, spec().output,
                       [&](auto head) { return run_per_sample<decltype(act), decltype(head)>(s, count); });
    });
  return layered_ ? run_layered(s, count) : run_chunked(s, count);
}

// Batches too small to fill the kernels' vectors of samples: one sample at a time through every layer,
// with the per-sample math of the fused kernel (kernels/math/sample_math.h) on the hidden activation Act
// and the head, the gradient added sample by sample in batch order. One thread, so the bits do not
// depend on --threads either.
template <class Act, class Head>
double CpuBackend::run_per_sample(const Samples& s, size_t count) {
  const int L = spec().num_layers(), nL = spec().outputs();
  const std::vector<SampleLayer>& layer = sample_layers_;  // [l − 1]: layer l
  const float* theta = params_.data();
  float* grad = grads_.data();
  // a_l and Δ_l of the sample (a_0 is its row of X itself).
  const size_t width = size_t(spec().max_width());
  const auto act = [&](int l) { return sample_work_.data() + size_t(l) * width; };
  const auto delta = [&](int l) { return sample_work_.data() + size_t(L + 1 + l) * width; };
  if (s.y) std::fill(grads_.begin(), grads_.end(), 0.0f);
  // The row kRowsAhead samples ahead, while this one computes (those before it were asked for by the
  // steps before): a shuffled epoch's row is a random cache line, whose wait was half of the step.
  if (s.rows && s.rows_known > kRowsAhead) prefetch_row<3>(s.x, s.x_stride, s.y, s.y_stride, s.rows[kRowsAhead]);
  const float inv_B = 1.0f / float(count);
  float loss = 0.0f;
  for (size_t b = 0; b < count; ++b) {
    const size_t row = s.rows ? size_t(s.rows[b]) : b;
    const float* x = s.x + row * s.x_stride;
    const auto a = [&](int l) -> const float* { return l == 0 ? x : act(l); };
    for (int l = 1; l <= L; ++l) {  // a_l = f(W_l a_{l-1} + b_l), the output layer's logits z_L
      const SampleLayer& k = layer[size_t(l - 1)];
      dense_forward_sample<Act>(theta + k.weights, spec().bias ? theta + k.bias : nullptr, a(l - 1), act(l), k.n_in,
                                k.n_out, l < L);
    }
    if (s.yhat)
      for (int o = 0; o < nL; ++o) s.yhat[b * size_t(nL) + size_t(o)] = act(L)[o];
    if (!s.y) continue;
    loss += output_delta_sample<Head>(act(L), s.y + row * s.y_stride, delta(L), nL, inv_B);  // Δ_L = (1/B) dℓ/dz
    for (int l = L; l >= 1; --l) {
      const SampleLayer& k = layer[size_t(l - 1)];
      add_gradient_sample(delta(l), a(l - 1), grad + k.weights, spec().bias ? grad + k.bias : nullptr, k.n_in, k.n_out);
      if (l > 1)  // Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(a_{l-1})
        dense_backward_sample<Act>(theta + k.weights, delta(l), a(l - 1), delta(l - 1), k.n_in, k.n_out);
    }
  }
  return loss;
}

void CpuBackend::begin_epoch(const EpochOrder& order) {
  HostBackend::begin_epoch(order);
  rows_count_ = 0;  // a new order: no row computed yet
}

// The rows of positions [first, first + known) of the epoch's order, each computed once: where rows_
// holds them all already they are used in place; else rows_ is made to hold [first, first + window)
// (window = max(known, kRowWindow), up to the epoch's end), keeping those it held already (the last
// step's prefetched rows, the next step's).
const uint32_t* CpuBackend::step_rows(size_t first, size_t known) {
  const size_t held_end = rows_first_ + rows_count_;
  if (rows_first_ <= first && first + known <= held_end) return rows_.data() + (first - rows_first_);
  size_t kept = 0;
  if (rows_first_ <= first && first < held_end) {
    kept = held_end - first;
    std::copy(rows_.begin() + std::ptrdiff_t(first - rows_first_), rows_.begin() + std::ptrdiff_t(rows_count_),
              rows_.begin());
  }
  // ≤ rows_.size() (reserve), and never fewer than the rows kept.
  const size_t window = std::max(kept, std::min(std::max(known, kRowWindow), train().size - first));
  epoch_rows(epoch_shuffle(), first + kept, window - kept, rows_.data() + kept);
  rows_first_ = first;
  rows_count_ = window;
  return rows_.data();
}

void CpuBackend::train_step(size_t first, size_t count, double lr) {
  if (count == 0) return;
  const Dataset& d = train();
  reserve(count);
  // This step's rows, and those after it to prefetch: the next step's, and kRowsAhead for a batch of one.
  const size_t ahead = count < kPerSampleBelow ? kRowsAhead : count;
  const size_t known = std::min(count + ahead, d.size - first);
  const uint32_t* rows = step_rows(first, known);
  Samples s;
  if (packed_) {
    s.x = packed_.get();
    s.y = packed_.get() + d.inputs;
    s.x_stride = s.y_stride = packed_stride_;
  } else {
    s.x = d.x.data();
    s.y = d.y.data();
    s.x_stride = size_t(d.inputs);
    s.y_stride = size_t(d.outputs);
  }
  s.rows = rows;
  s.rows_known = known;
  epoch_loss_sum_ += run(s, count);
  update(lr, layered_ ? threads_for(count) : 1);
}

// Step t of the optimizer (kernels/math/optimizer.h) on every parameter at once, from grads_: the policy
// chosen and its scalars computed once per step, the parameters in blocks of kUpdateBlock.
void CpuBackend::update(double lr, int threads) {
  const OptimizerSettings& settings = setup().optimizer;
  const size_t P = params_.size();
  ++optimizer_steps_;
  const auto each_parameter = [&](auto update_one) {
    pool_.run(threads, pieces(P, kUpdateBlock), [&](size_t t, int) {
      for (size_t k = t * kUpdateBlock; k < std::min(P, (t + 1) * kUpdateBlock); ++k) update_one(k);
    });
  };
  if (settings.kind == OptimizerKind::sgd && settings.weight_decay == 0.0) {
    // The notes' plain SGD, θ ← θ − lr·dθ (§1): Sgd::update's bits without weight decay, but without the
    // step's other scalars (two pow) and the test of wd per parameter, which the compiler leaves in a
    // scalar loop: +7% instructions per step of 2-3-3-1 at batch 32, +11% of 2-64-64-1 (callgrind).
    const float rate = float(lr);
    each_parameter([&](size_t k) { params_[k] -= rate * grads_[k]; });
    return;
  }
  const OptimizerStep<float> step = optimizer_step<float>(settings, lr, optimizer_steps_);
  with_optimizer(settings.kind, [&](auto optimizer) {
    using Optimizer = decltype(optimizer);
    float* state = optimizer_values_.data();  // empty for sgd: kSlots = 0
    each_parameter(
        [&](size_t k) { Optimizer::update(params_[k], grads_[k], Optimizer::kSlots ? state + k : nullptr, P, step); });
  });
}

// Columns of a prediction piece: up to 4096, fewer where the layered workspace of a wide network
// would pass kPredictWorkspaceBytes (2-4000-4000-1 keeps 16 008 floats per column: 4096 columns
// were 262 MB, 16 bytes per parameter), and never fewer than the training batch already reserved.
// The piece does not change a row's logits (each column is computed alone).
size_t CpuBackend::prediction_piece(size_t count) const {
  const size_t affordable = kPredictWorkspaceBytes / (sizeof(float) * workspace_floats_per_column(spec()));
  const size_t wanted = std::min<size_t>({count, 4096, std::max(affordable, kPadColumns)});
  return std::max(capacity_, wanted);
}

void CpuBackend::predict_logits(const float* x, size_t count, double* yhat) {
  const size_t piece = prediction_piece(count);
  reserve(piece);
  for (size_t start = 0; start < count; start += piece) {
    Samples s;
    s.x = x + start * spec().inputs();
    s.x_stride = size_t(spec().inputs());
    s.yhat = yhat + start * spec().outputs();
    run(s, std::min(piece, count - start));
  }
}

double CpuBackend::loss_and_gradients(const Batch& batch, Parameters& grad) {
  reserve(batch.count);
  Samples s;
  s.x = batch.x;
  s.x_stride = size_t(spec().inputs());
  s.y = batch.y;
  s.y_stride = size_t(spec().outputs());
  const double loss_sum = run(s, batch.count);
  grad = Parameters::from_float(spec(), grads_.data());
  return loss_sum / double(batch.count);
}

}  // namespace sigtrain
