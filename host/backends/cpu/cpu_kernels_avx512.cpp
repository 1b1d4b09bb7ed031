// The cpu kernels for AVX-512 (x86-64-v4: Skylake-SP and later, Zen 4): 16 floats per vector.
#include <cmath>  // before the target pragma: activation.h's standard headers stay generic code

#include "backends/cpu/cpu_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c")
#include "math/activation.h"
#include "math/loss.h"  // its templates, instantiated on this file's vectors only (see cpu_kernels_impl.h)
#include "math/sample_math.h"                // likewise
#include "backends/cpu/cpu_static_shapes.h"  // likewise static_for (the shapes' constexpr sizes make no code)
#include "math/epoch_shuffle.h"  // likewise EpochShuffle::permute, on this file's integer vectors

namespace sigtrain::cpu_avx512 {

struct Isa {
  using V = __m512;
  // Intrinsics whose plain form GCC 12.2 wrongly warns about (bug 105593) are used zero-masked, all lanes on.
  static constexpr __mmask16 kAll = 0xffff;
  static constexpr const char* kName = "avx512";
  static constexpr int kLanes = 16, kBlockRows = 4, kBlockVecs = 4, kBlockInputs = 4;  // of 32 registers
  static constexpr bool kCompress = true;
  static V set1(float s) { return _mm512_set1_ps(s); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V min(V a, V b) { return _mm512_maskz_min_ps(kAll, a, b); }
  static V max(V a, V b) { return _mm512_maskz_max_ps(kAll, a, b); }
  // The 14-bit estimate and one Newton step, r + r(1 − d·r): within an ulp, far cheaper than a division.
  static V reciprocal(V d) {
    const V r = _mm512_maskz_rcp14_ps(kAll, d);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
  }
  // cpu_kernels_impl.h's append_outside: the lanes k < lanes of x[0, 16) that are ≥ n, and first + k,
  // packed to the front of 16 slots of value and of where (compressed in registers, then stored whole:
  // the compressing store to memory is the slow form on several processors). Returns how many.
  static size_t compress_at_least(const uint32_t* x, int lanes, uint32_t n, uint32_t first, uint32_t* where,
                                  uint32_t* value) {
    const __m512i v = _mm512_loadu_si512(x);
    const __mmask16 in_run = __mmask16((1u << lanes) - 1u);  // lanes ≤ 16
    const __mmask16 outside = _mm512_mask_cmpge_epu32_mask(in_run, v, _mm512_set1_epi32(int(n)));
    const __m512i index = _mm512_add_epi32(_mm512_set1_epi32(int(first)),
                                           _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    _mm512_storeu_si512(value, _mm512_maskz_compress_epi32(outside, v));
    _mm512_storeu_si512(where, _mm512_maskz_compress_epi32(outside, index));
    return size_t(__builtin_popcount(outside));
  }
};

#include "cpu_kernels_impl.h"

}  // namespace sigtrain::cpu_avx512

#pragma GCC pop_options

namespace sigtrain {
const CpuKernels* cpu_kernels_avx512() { return &cpu_avx512::kKernels; }
}  // namespace sigtrain

#else
namespace sigtrain {
const CpuKernels* cpu_kernels_avx512() { return nullptr; }
}  // namespace sigtrain
#endif
