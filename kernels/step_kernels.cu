#include "step_kernels.h"

namespace sigtrain::kernels {

namespace {

// Sum of one value per thread over the block, in a fixed tree order (deterministic). All threads of
// the block must call it; the result is valid in thread 0.
template <typename T>
__device__ T block_sum(T value) {
  __shared__ T shared[kBlockSize];
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = kBlockSize / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  return shared[0];
}

__global__ void gather_batch_kernel(const float* X, const float* Y, const EpochShuffle* order,
                                    const unsigned long long* position, int n0, int nL, size_t B, float* A0,
                                    float* Yb) {
  const size_t t = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const size_t first = *position;
  const size_t input_values = size_t(n0) * B;
  if (t < input_values) {
    const size_t b = t / n0, j = t % n0;
    const size_t row = order ? order->row(first + b) : first + b;
    A0[t] = X[row * n0 + j];
  } else if (t < input_values + size_t(nL) * B) {
    const size_t u = t - input_values, b = u / nL, o = u % nL;
    const size_t row = order ? order->row(first + b) : first + b;
    Yb[u] = Y[row * nL + o];
  }
}

template <class Act>
__global__ void bias_activation_kernel(float* Z, const float* bias, int n, size_t count) {
  const size_t t = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= count) return;
  Z[t] = Act::forward(Z[t] + (bias ? bias[t % n] : 0.0f));
}

template <class Head>
__global__ void output_loss_delta_kernel(float* Z, const float* bias, const float* Y, float* delta, float* partials,
                                         int n_out, size_t count, float inv_B) {
  const size_t t = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  float loss = 0.0f;
  if (t < count) {
    const float z = Z[t] + (bias ? bias[t % n_out] : 0.0f);
    Z[t] = z;
    loss = Head::value(z, Y[t]);
    delta[t] = Head::delta(z, Y[t]) * inv_B;  // Δ_L = (1/B) dℓ/dz
  }
  const float block_total = block_sum(loss);
  if (threadIdx.x == 0) partials[blockIdx.x] = block_total;
}

__global__ void accumulate_loss_kernel(const float* partials, int count, double* accumulator) {
  double sum = 0.0;
  for (int k = threadIdx.x; k < count; k += blockDim.x) sum += partials[k];
  const double total = block_sum(sum);
  if (threadIdx.x == 0) *accumulator += total;
}

template <class Act>
__global__ void activation_backward_kernel(const float* dA, const float* A, float* delta, size_t count) {
  const size_t t = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < count) delta[t] = dA[t] * Act::grad_from_output(A[t]);
}

__global__ void row_sums_kernel(const float* delta, int n, size_t B, float* db) {
  const int row = blockIdx.x;
  float sum = 0.0f;
  for (size_t b = threadIdx.x; b < B; b += blockDim.x) sum += delta[b * n + row];
  const float total = block_sum(sum);
  if (threadIdx.x == 0) db[row] = total;
}

// Every thread takes the step's scalars itself (what it does not use, plain SGD's bias corrections,
// the compiler drops), from the learning rate and step count in device memory.
template <class Optimizer>
__global__ void optimizer_update_kernel(const __grid_constant__ OptimizerSettings settings, float* params,
                                        const float* grads, float* state, size_t n, const float* lr,
                                        const uint64_t* steps) {
  const size_t e = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= n) return;
  const OptimizerStep<float> scalars = optimizer_step<float>(settings, double(*lr), *steps + 1);
  Optimizer::update(params[e], grads[e], Optimizer::kSlots ? state + e : nullptr, n, scalars);
}

__global__ void finish_step_kernel(unsigned long long* position, size_t count, uint64_t* steps) {
  *position += count;
  *steps += 1;
}
__global__ void set_position_kernel(unsigned long long* position, unsigned long long value) { *position = value; }

}  // namespace

cudaError_t gather_batch(const float* X, const float* Y, const EpochShuffle* order, const unsigned long long* position,
                         int n0, int nL, size_t B, float* A0, float* Yb, cudaStream_t stream) {
  gather_batch_kernel<<<blocks_for(size_t(n0 + nL) * B), kBlockSize, 0, stream>>>(X, Y, order, position, n0, nL, B, A0,
                                                                                  Yb);
  return cudaGetLastError();
}

cudaError_t bias_activation(Activation f, float* Z, const float* bias, int n, size_t B, cudaStream_t stream) {
  if (f == Activation::linear && !bias) return cudaSuccess;  // Z is already what it must be
  with_activation(f, [&](auto act) {
    bias_activation_kernel<decltype(act)>
        <<<blocks_for(size_t(n) * B), kBlockSize, 0, stream>>>(Z, bias, n, size_t(n) * B);
  });
  return cudaGetLastError();
}

cudaError_t output_loss_delta(Loss loss, Activation output, float* Z, const float* bias, const float* Y, float* delta,
                              float* partials, int n_out, size_t B, cudaStream_t stream) {
  with_head(loss, output, [&](auto head) {
    output_loss_delta_kernel<decltype(head)><<<loss_blocks(n_out, B), kBlockSize, 0, stream>>>(
        Z, bias, Y, delta, partials, n_out, size_t(n_out) * B, 1.0f / float(B));
  });
  return cudaGetLastError();
}

cudaError_t accumulate_loss(const float* partials, int count, double* accumulator, cudaStream_t stream) {
  accumulate_loss_kernel<<<1, kBlockSize, 0, stream>>>(partials, count, accumulator);
  return cudaGetLastError();
}

cudaError_t activation_backward(Activation f, const float* dA, const float* A, float* delta, size_t count,
                                cudaStream_t stream) {
  with_activation(f, [&](auto act) {
    activation_backward_kernel<decltype(act)><<<blocks_for(count), kBlockSize, 0, stream>>>(dA, A, delta, count);
  });
  return cudaGetLastError();
}

cudaError_t row_sums(const float* delta, int n, size_t B, float* db, cudaStream_t stream) {
  row_sums_kernel<<<unsigned(n), kBlockSize, 0, stream>>>(delta, n, B, db);
  return cudaGetLastError();
}

cudaError_t optimizer_update(const OptimizerSettings& settings, float* params, const float* grads, float* state,
                             size_t n, const float* lr, const uint64_t* steps, cudaStream_t stream) {
  with_optimizer(settings.kind, [&](auto optimizer) {
    optimizer_update_kernel<decltype(optimizer)>
        <<<blocks_for(n), kBlockSize, 0, stream>>>(settings, params, grads, state, n, lr, steps);
  });
  return cudaGetLastError();
}

cudaError_t finish_step(unsigned long long* position, size_t count, uint64_t* steps, cudaStream_t stream) {
  finish_step_kernel<<<1, 1, 0, stream>>>(position, count, steps);
  return cudaGetLastError();
}

cudaError_t probe_kernel_image() {
  cudaFuncAttributes attributes{};
  return cudaFuncGetAttributes(&attributes, set_position_kernel);  // any kernel: every .cu has the same architectures
}

cudaError_t set_position(unsigned long long* position, unsigned long long value, cudaStream_t stream) {
  set_position_kernel<<<1, 1, 0, stream>>>(position, value);
  return cudaGetLastError();
}

}  // namespace sigtrain::kernels
