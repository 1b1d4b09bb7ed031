// Networks whose widths are known at compile time: their flat layout (network.h's W_1, b_1, W_2, …)
// and their units as constants, so that every per-sample array has a fixed size and stays in
// registers, and loops over layers unrolled by static_for. Used by the GPU's shape-specialised and
// tiled kernels (kernels/fused_warp.h, fused_tiled.h) and by the cpu kernels' small networks
// (host/backends/cpu/cpu_kernels_impl.h). Constants and constexpr functions only: no code of its own
// depends on the instruction set a file is compiled for.
#pragma once

#include <type_traits>

#include "math/activation.h"  // SIGTRAIN_HD

// Where a template calls host-only or device-only code, nvcc is told that each instantiation runs on
// one side only.
#if defined(__CUDACC__)
#define SIGTRAIN_HD_TEMPLATE _Pragma("nv_exec_check_disable")
#else
#define SIGTRAIN_HD_TEMPLATE
#endif

namespace sigtrain {

// A network's widths n_0 … n_L as template arguments.
template <int... Widths>
struct StaticShape {
  static constexpr int kLayers = int(sizeof...(Widths)) - 1;
  static constexpr int width(int l) {
    constexpr int w[] = {Widths...};
    return w[l];
  }
  // Where W_l starts in network.h's flat layout (W_1, b_1, W_2, b_2, …); l = L + 1 gives P.
  static constexpr int weight_offset(int l, bool bias) {
    int offset = 0;
    for (int k = 1; k < l; ++k) offset += width(k) * width(k - 1) + (bias ? width(k) : 0);
    return offset;
  }
  // Where a_l starts in one sample's activations a_0 … a_L laid end to end; l = L + 1 gives their size.
  static constexpr int unit_offset(int l) {
    int offset = 0;
    for (int k = 0; k < l; ++k) offset += width(k);
    return offset;
  }
  // Whether a network of `layers` weight layers and widths[0 … layers] has this shape.
  static bool matches(int layers, const int* widths) {
    if (layers != kLayers) return false;
    for (int l = 0; l <= kLayers; ++l)
      if (widths[l] != width(l)) return false;
    return true;
  }
};

// A shape with or without biases: the sizes the kernels work with.
template <class Shape, bool Bias>
struct StaticLayout {
  static constexpr bool kBias = Bias;
  static constexpr int kLayers = Shape::kLayers;
  static constexpr int kInputs = Shape::width(0);
  static constexpr int kOutputs = Shape::width(kLayers);
  static constexpr int kParams = Shape::weight_offset(kLayers + 1, Bias);  // P
  static constexpr int kUnits = Shape::unit_offset(kLayers + 1);           // Σ n_l
  static constexpr int width(int l) { return Shape::width(l); }
  static constexpr int weight_offset(int l) { return Shape::weight_offset(l, Bias); }
  static constexpr int bias_offset(int l) { return weight_offset(l) + width(l) * width(l - 1); }
  static constexpr int unit_offset(int l) { return Shape::unit_offset(l); }
};

// f(integral_constant<int, i>) for i = First, First + 1, … ≤ Last: layers as compile-time numbers.
SIGTRAIN_HD_TEMPLATE
template <int First, int Last, class F>
SIGTRAIN_HD void static_for(F&& f) {
  if constexpr (First <= Last) {
    f(std::integral_constant<int, First>{});
    static_for<First + 1, Last>(f);
  }
}
// The same downwards: i = First, First − 1, … ≥ Last.
SIGTRAIN_HD_TEMPLATE
template <int First, int Last, class F>
SIGTRAIN_HD void static_for_down(F&& f) {
  if constexpr (First >= Last) {
    f(std::integral_constant<int, First>{});
    static_for_down<First - 1, Last>(f);
  }
}

// A list of shapes, each a StaticShape: the shapes a kernel is compiled for.
template <class... Shapes>
struct ShapeList {};

// Where the network of `layers` weight layers and widths[0 … layers] is in the list, or −1.
template <class... Shapes>
int shape_index(ShapeList<Shapes...>, int layers, const int* widths) {
  int index = 0;
  for (const bool match : {Shapes::matches(layers, widths)...}) {
    if (match) return index;
    ++index;
  }
  return -1;
}

// f(Shape{}) with the list's shape at `index` (0 ≤ index < the list's size).
template <class F, class First, class... Rest>
void with_shape_at(int index, ShapeList<First, Rest...>, F&& f) {
  if (index == 0) {
    f(First{});
  } else if constexpr (sizeof...(Rest) > 0) {
    with_shape_at(index - 1, ShapeList<Rest...>{}, f);
  }
}

}  // namespace sigtrain
