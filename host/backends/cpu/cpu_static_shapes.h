// The shapes whose training chunks the cpu kernels compile with the widths as constants, every layer
// of kLanes samples in registers (cpu_kernels.h's static_chunk): the notes' network and its narrow
// relatives, with every activation and head, with and without biases. cpu_kernels.cpp finds a
// network's place in the list (generic code); each instruction set's variant compiles the list's
// chunks (cpu_kernels_impl.h). Measured against the layer-by-layer kernels (`train --backend cpu
// --no-shuffle`, 1 M samples, 1 thread, AVX-512, best of 5): 2-3-3-1 +41% samples/s at batch 8 (the
// default run), +25% at 32, +7% at 256; 2-4-1 +41% at 8, +11% at 256; 2-8-1 +10% and 2-4-4-1 +2% at
// 256. Not 2-8-8-1: 13% slower at 256 (88 accumulators do not fit the 32 vector registers).
#pragma once

#include "math/static_shape.h"

namespace sigtrain {

using CpuStaticShapes =
    ShapeList<StaticShape<2, 3, 3, 1>, StaticShape<2, 4, 1>, StaticShape<2, 8, 1>, StaticShape<2, 4, 4, 1>>;

}  // namespace sigtrain
