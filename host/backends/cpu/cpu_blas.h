// cblas_sgemm from OpenBLAS for the cpu backend's wide layers, loaded when first needed (dlopen), so
// that the build needs no BLAS and a machine without OpenBLAS still runs, on the backend's own kernels.
#pragma once

#include <cstddef>
#include <string>

namespace sigtrain {

// Whether OpenBLAS could be loaded (the first call loads it).
bool cpu_blas_available();
// "OpenBLAS 0.3.21 … (SkylakeX)", or why there is none: for descriptions and test messages.
std::string cpu_blas_name();
// C = op(A)·op(B) on row-major panels (C is m × n; op(A) m × k; op(B) k × n; ld_* are row strides),
// on the calling thread only: the backend runs several at once from its own threads, each on a
// fixed tile, so OpenBLAS's own threads stay idle and results never depend on the thread count.
// Only when cpu_blas_available().
void cpu_sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, const float* A, size_t ld_a, const float* B,
               size_t ld_b, float* C, size_t ld_c);

}  // namespace sigtrain
