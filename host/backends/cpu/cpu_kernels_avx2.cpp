// The cpu kernels for AVX2 with FMA (x86-64-v3: Haswell and later, Zen): 8 floats per vector.
#include <cmath>  // before the target pragma: activation.h's standard headers stay generic code

#include "backends/cpu/cpu_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c")
#include "math/activation.h"
#include "math/loss.h"  // its templates, instantiated on this file's vectors only (see cpu_kernels_impl.h)
#include "math/sample_math.h"                // likewise
#include "backends/cpu/cpu_static_shapes.h"  // likewise static_for (the shapes' constexpr sizes make no code)
#include "math/epoch_shuffle.h"  // likewise EpochShuffle::permute, on this file's integer vectors

namespace sigtrain::cpu_avx2 {

struct Isa {
  using V = __m256;
  static constexpr const char* kName = "avx2";
  static constexpr int kLanes = 8, kBlockRows = 4, kBlockVecs = 2, kBlockInputs = 2;  // of 16 registers
  static constexpr bool kCompress = false;  // cpu_kernels_impl.h's append_outside: lane by lane
  static V set1(float s) { return _mm256_set1_ps(s); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  // The 12-bit estimate and two Newton steps, r + r(1 − d·r): within an ulp (one step leaves 2^-23,
  // enough to make σ of a saturated unit 1 − 2^-24 instead of 1), still cheaper than a division.
  static V reciprocal(V d) {
    const V one = _mm256_set1_ps(1.0f);
    V r = _mm256_rcp_ps(d);
    r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, one), r);
    return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, one), r);
  }
};

#include "cpu_kernels_impl.h"

}  // namespace sigtrain::cpu_avx2

#pragma GCC pop_options

namespace sigtrain {
const CpuKernels* cpu_kernels_avx2() { return &cpu_avx2::kKernels; }
}  // namespace sigtrain

#else
namespace sigtrain {
const CpuKernels* cpu_kernels_avx2() { return nullptr; }
}  // namespace sigtrain
#endif
