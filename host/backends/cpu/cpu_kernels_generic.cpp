// The cpu kernels for any processor (SSE2 on every x86-64): 4 floats per vector, plain GCC vectors.
#include <cmath>

#include "math/activation.h"
#include "math/epoch_shuffle.h"
#include "math/loss.h"
#include "math/sample_math.h"
#include "backends/cpu/cpu_static_shapes.h"
#include "backends/cpu/cpu_kernels.h"

namespace sigtrain::cpu_generic {

struct Isa {
  using V = float __attribute__((vector_size(16)));
  static constexpr const char* kName = "generic";
  static constexpr int kLanes = 4, kBlockRows = 4, kBlockVecs = 2, kBlockInputs = 2;  // of 16 registers
  static constexpr bool kCompress = false;  // cpu_kernels_impl.h's append_outside: lane by lane
  static V set1(float s) { return V{s, s, s, s}; }
  static V fmadd(V a, V b, V c) { return a * b + c; }
  static V min(V a, V b) { return a < b ? a : b; }
  static V max(V a, V b) { return a > b ? a : b; }
  static V reciprocal(V d) { return 1.0f / d; }
};

#include "cpu_kernels_impl.h"

}  // namespace sigtrain::cpu_generic

namespace sigtrain {
const CpuKernels* cpu_kernels_generic() { return &cpu_generic::kKernels; }
}  // namespace sigtrain
