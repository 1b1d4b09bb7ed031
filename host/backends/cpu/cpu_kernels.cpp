// Chooses the cpu kernels this processor runs (cpu_kernels.h).
#include "backends/cpu/cpu_kernels.h"

#include <cstdlib>
#include <cstring>

#include "backends/cpu/cpu_static_shapes.h"
#include "math/loss.h"

namespace sigtrain {

// Each is null where the build has no such variant (not x86).
const CpuKernels* cpu_kernels_avx512();
const CpuKernels* cpu_kernels_avx2();
const CpuKernels* cpu_kernels_generic();

std::vector<const CpuKernels*> supported_cpu_kernels() {
  std::vector<const CpuKernels*> variants;
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports also checks that the operating system saves the wider registers.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
    variants.push_back(cpu_kernels_avx512());
  if (avx2) variants.push_back(cpu_kernels_avx2());
#endif
  variants.push_back(cpu_kernels_generic());
  return variants;
}

const CpuKernels& cpu_kernels() {
  // SIGTRAIN_CPU_KERNELS=avx2 (or generic) picks a narrower variant, to measure or test it.
  static const CpuKernels* chosen = [] {
    const std::vector<const CpuKernels*> variants = supported_cpu_kernels();
    if (const char* wanted = std::getenv("SIGTRAIN_CPU_KERNELS"))
      for (const CpuKernels* k : variants)
        if (std::strcmp(k->name, wanted) == 0) return k;
    return variants.front();
  }();
  return *chosen;
}

int cpu_static_shape(int layers, const int* widths) { return shape_index(CpuStaticShapes{}, layers, widths); }

void binary_cross_entropy_terms(const float* z, const float* y, float* terms, int n) {
  for (int k = 0; k < n; ++k) terms[k] = BinaryCrossEntropy::value(z[k], y[k]);
}

}  // namespace sigtrain
