#include "math/activation.h"
#include "math/loss.h"
#include "cuda_check.h"
#include "sigmoid_kernels.h"

namespace sigtrain::kernels {

namespace {

unsigned blocks_for(size_t count) { return unsigned((count + kBlockSize - 1) / kBlockSize); }

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

__global__ void gather_batch_kernel(const float* X, const float* Y, const uint32_t* order,
                                    const unsigned long long* position, int n0, int nL, size_t B, float* A0,
                                    float* Yb) {
  const size_t t = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const size_t first = *position;
  const size_t input_values = size_t(n0) * B;
  if (t < input_values) {
    const size_t b = t / n0, j = t % n0;
    const size_t row = order ? order[first + b] : first + b;
    A0[t] = X[row * n0 + j];
  } else if (t < input_values + size_t(nL) * B) {
    const size_t u = t - input_values, b = u / nL, o = u % nL;
    const size_t row = order ? order[first + b] : first + b;
    Yb[u] = Y[row * nL + o];
  }
}

template <bool kSigmoid>
__global__ void bias_activation_kernel(float* Z, const float* bias, int n, size_t count) {
  const size_t t = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= count) return;
  float z = Z[t] + (bias ? bias[t % n] : 0.0f);
  Z[t] = kSigmoid ? sigmoid(z) : z;
}

__global__ void output_loss_delta_kernel(float* Z, const float* bias, const float* Y, float* delta, float* partials,
                                         int n_out, size_t count, float inv_B) {
  const size_t t = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  float squared = 0.0f;
  if (t < count) {
    const float yhat = Z[t] + (bias ? bias[t % n_out] : 0.0f);
    Z[t] = yhat;
    const float residual = yhat - Y[t];
    squared = residual * residual;
    delta[t] = squared_error_grad(yhat, Y[t]) * inv_B;  // Δ_L = (2/B)(Ŷ − Y)
  }
  const float block_total = block_sum(squared);
  if (threadIdx.x == 0) partials[blockIdx.x] = block_total;
}

__global__ void accumulate_loss_kernel(const float* partials, int count, double* accumulator) {
  double sum = 0.0;
  for (int k = threadIdx.x; k < count; k += blockDim.x) sum += partials[k];
  const double total = block_sum(sum);
  if (threadIdx.x == 0) *accumulator += total;
}

__global__ void sigmoid_backward_kernel(const float* dA, const float* A, float* delta, size_t count) {
  const size_t t = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < count) delta[t] = dA[t] * sigmoid_grad_from_output(A[t]);
}

__global__ void row_sums_kernel(const float* delta, int n, size_t B, float* db) {
  const int row = blockIdx.x;
  float sum = 0.0f;
  for (size_t b = threadIdx.x; b < B; b += blockDim.x) sum += delta[b * n + row];
  const float total = block_sum(sum);
  if (threadIdx.x == 0) db[row] = total;
}

__global__ void sgd_update_kernel(float* params, const float* grads, size_t n, float lr) {
  const size_t t = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) params[t] -= lr * grads[t];
}

__global__ void advance_position_kernel(unsigned long long* position, size_t count) { *position += count; }
__global__ void set_position_kernel(unsigned long long* position, unsigned long long value) { *position = value; }

}  // namespace

void gather_batch(const float* X, const float* Y, const uint32_t* order, const unsigned long long* position, int n0,
                  int nL, size_t B, float* A0, float* Yb, cudaStream_t stream) {
  gather_batch_kernel<<<blocks_for(size_t(n0 + nL) * B), kBlockSize, 0, stream>>>(X, Y, order, position, n0, nL, B,
                                                                                   A0, Yb);
  CUDA_CHECK_LAUNCH();
}

void bias_sigmoid(float* Z, const float* bias, int n, size_t B, cudaStream_t stream) {
  bias_activation_kernel<true><<<blocks_for(size_t(n) * B), kBlockSize, 0, stream>>>(Z, bias, n, size_t(n) * B);
  CUDA_CHECK_LAUNCH();
}

void bias_linear(float* Z, const float* bias, int n, size_t B, cudaStream_t stream) {
  if (!bias) return;
  bias_activation_kernel<false><<<blocks_for(size_t(n) * B), kBlockSize, 0, stream>>>(Z, bias, n, size_t(n) * B);
  CUDA_CHECK_LAUNCH();
}

void output_loss_delta(float* Z, const float* bias, const float* Y, float* delta, float* partials, int n_out,
                       size_t B, cudaStream_t stream) {
  output_loss_delta_kernel<<<loss_blocks(n_out, B), kBlockSize, 0, stream>>>(Z, bias, Y, delta, partials, n_out,
                                                                             size_t(n_out) * B, 1.0f / float(B));
  CUDA_CHECK_LAUNCH();
}

void accumulate_loss(const float* partials, int count, double* accumulator, cudaStream_t stream) {
  accumulate_loss_kernel<<<1, kBlockSize, 0, stream>>>(partials, count, accumulator);
  CUDA_CHECK_LAUNCH();
}

void sigmoid_backward(const float* dA, const float* A, float* delta, size_t count, cudaStream_t stream) {
  sigmoid_backward_kernel<<<blocks_for(count), kBlockSize, 0, stream>>>(dA, A, delta, count);
  CUDA_CHECK_LAUNCH();
}

void row_sums(const float* delta, int n, size_t B, float* db, cudaStream_t stream) {
  row_sums_kernel<<<unsigned(n), kBlockSize, 0, stream>>>(delta, n, B, db);
  CUDA_CHECK_LAUNCH();
}

void sgd_update(float* params, const float* grads, size_t n, float lr, cudaStream_t stream) {
  sgd_update_kernel<<<blocks_for(n), kBlockSize, 0, stream>>>(params, grads, n, lr);
  CUDA_CHECK_LAUNCH();
}

void advance_position(unsigned long long* position, size_t count, cudaStream_t stream) {
  advance_position_kernel<<<1, 1, 0, stream>>>(position, count);
  CUDA_CHECK_LAUNCH();
}

void set_position(unsigned long long* position, unsigned long long value, cudaStream_t stream) {
  set_position_kernel<<<1, 1, 0, stream>>>(position, value);
  CUDA_CHECK_LAUNCH();
}

}  // namespace sigtrain::kernels
