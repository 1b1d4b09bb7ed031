// The cpu kernels of cpu_kernels.h, written once for any vector width. Not a normal header: each of
// cpu_kernels_avx512.cpp, cpu_kernels_avx2.cpp and cpu_kernels_generic.cpp includes it once, inside
// its own namespace and (for AVX) inside `#pragma GCC target(...)`, after defining `struct Isa`:
//
//   using V = <GCC vector of floats>;  kName; kLanes (floats in V);
//   kBlockRows, kBlockVecs, kBlockInputs: the register blocking (rows × vectors of samples in the
//       products, rows × inputs in the weight gradient), sized to the register file;
//   static V set1(float s)         every lane s;
//   static V fmadd(V a, V b, V c)  a·b + c (fused where the instruction set has FMA);
//   static V min(V a, V b), max(V a, V b)  like x86's MINPS/MAXPS: b where either is NaN;
//   static V reciprocal(V d)       1/d to about 1 ulp.
//
// Everything defined here is compiled for that instruction set, so nothing here may be an inline
// function or template that other files also use: the linker could keep this file's AVX-512 copy for
// the whole program. Functions defined before the pragma (cpu_kernels.h's) stay generic code, and
// activation.h's templates are instantiated only on this file's own vector type `Vec`.
//
// Sums run in a fixed order (lane k of a vector accumulates columns k, k + kLanes, …, then the lanes
// are added pairwise), so a result depends only on the inputs and the instruction set.

using V = Isa::V;
using VI = int __attribute__((vector_size(sizeof(V))));  // the same bits seen as int32 lanes
constexpr int kLanes = Isa::kLanes;

// A vector of kLanes floats with the arithmetic operators, so that activation.h's and loss.h's policies
// run on it unchanged: their elementary functions (sigmoid, tanh_of, relu_of, relu_grad_of below) are
// found for Vec by argument-dependent lookup.
struct Vec {
  V v;
  Vec() = default;
  Vec(V x) : v(x) {}
  Vec(float s) : v(Isa::set1(s)) {}  // every lane s; also what activation.h's T(1) and T(2) mean
  static Vec load(const float* p) {
    V x;
    __builtin_memcpy(&x, p, sizeof x);
    return x;
  }
  void store(float* p) const { __builtin_memcpy(p, &v, sizeof v); }
};
inline Vec operator+(Vec a, Vec b) { return a.v + b.v; }
inline Vec operator-(Vec a, Vec b) { return a.v - b.v; }
inline Vec operator*(Vec a, Vec b) { return a.v * b.v; }
inline Vec operator-(Vec a) { return -a.v; }
inline Vec& operator+=(Vec& a, Vec b) { return a = a + b; }
inline Vec fmadd(Vec a, Vec b, Vec c) { return Isa::fmadd(a.v, b.v, c.v); }

// Lanes k < n keep a, the others get b (0 ≤ n ≤ kLanes).
inline Vec first_lanes(size_t n, Vec a, Vec b) {
  V lane;
  for (int k = 0; k < kLanes; ++k) lane[k] = float(k);
  return lane < Vec(float(n)).v ? a.v : b.v;
}

// Σ of the lanes, added pairwise in a fixed order: lane k and lane k + kLanes/2 first, and so on.
inline float horizontal_sum(Vec x) {
  float s[kLanes];
  x.store(s);
  for (int half = kLanes / 2; half > 0; half /= 2)
    for (int k = 0; k < half; ++k) s[k] += s[k + half];
  return s[0];
}

// The lane sums of kLanes vectors at once, in horizontal_sum's order: lane k of the result is the sum
// of v[k]. Each level pairs two vectors whose lanes hold groups of G partial sums (one group per
// source vector) and adds the two halves of every group: G/2 partial sums per group, x's groups first.
// That is log2(kLanes) levels of two shuffles and an add per pair, not kLanes scalar sums.
template <int G>
inline Vec fold_groups(Vec x, Vec y) {
  VI lo, hi;
  for (int q = 0; q < kLanes / G; ++q)
    for (int t = 0; t < G / 2; ++t) {
      lo[q * (G / 2) + t] = q * G + t;
      hi[q * (G / 2) + t] = q * G + G / 2 + t;
      lo[kLanes / 2 + q * (G / 2) + t] = kLanes + q * G + t;
      hi[kLanes / 2 + q * (G / 2) + t] = kLanes + q * G + G / 2 + t;
    }
  return Vec(__builtin_shuffle(x.v, y.v, lo)) + Vec(__builtin_shuffle(x.v, y.v, hi));
}

template <int G = kLanes>
inline Vec lane_sums(Vec* v, int n = kLanes) {  // overwrites v
  if constexpr (G == 1) {
    return v[0];
  } else {
    for (int p = 0; p < n / 2; ++p) v[p] = fold_groups<G>(v[2 * p], v[2 * p + 1]);
    return lane_sums<G / 2>(v, n / 2);
  }
}

// e^{-x} for x in [-87, 87], as Cephes' expf (within 2 ulp): −x = n·ln2 − r with n = round(−x/ln2)
// and |r| ≤ ln2/2, e^{-r} by a degree-5 minimax polynomial, 2^n built directly in the float's exponent.
// (Reducing x + n·ln2 rather than −x − n·ln2 saves negating x.) The two factors are returned apart,
// so that the caller can fold its next operation into their product.
struct ExpParts {
  Vec mantissa, two_n;  // e^{-x} = mantissa · two_n
};
inline ExpParts exp_negated(Vec x) {
  constexpr float kShifter = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer, kept in the low mantissa bits
  const Vec t = fmadd(x, Vec(-1.44269504088896341f), Vec(kShifter));
  const Vec n = t - Vec(kShifter);
  Vec r = fmadd(n, Vec(0.693359375f), x);  // r = x + n·ln2, ln2 = 0.693359375 − 2.12194440e-4 (n·0.693359375 exact)
  r = fmadd(n, Vec(-2.12194440e-4f), r);
  // e^{-r} = 1 − r + r²·p(−r): Cephes' coefficients, the odd ones negated.
  Vec p(-1.9875691500e-4f);
  p = fmadd(p, r, Vec(1.3981999507e-3f));
  p = fmadd(p, r, Vec(-8.3334519073e-3f));
  p = fmadd(p, r, Vec(4.1665795894e-2f));
  p = fmadd(p, r, Vec(-1.6666665459e-1f));
  p = fmadd(p, r, Vec(5.0000001201e-1f));
  const Vec e_r = fmadd(p * r, r, Vec(1.0f) - r);
  // The low bits of t hold n (|n| ≤ 126 here): (n + 127) << 23 are the bits of the float 2^n.
  const VI two_n = ((VI)t.v + 127) << 23;
  return {e_r, Vec((V)two_n)};
}

// σ(x) = 1/(1 + e^{-x}), activation.h's formula in vectors: within 4 ulp of fp64 σ (3.2 measured, in
// every variant; tests/test_cpu_backend.cpp). x is clamped to [−87, 87], where e^{-x} is a normal
// float, so σ is 1.6e-38 (not 0) below x = −87. A NaN stays NaN (the clamp passes it on), so a
// diverged network still reports a NaN loss.
inline Vec sigmoid(Vec x) {
  const Vec clamped = Isa::max(Vec(-87.0f).v, Isa::min(Vec(87.0f).v, x.v));
  const ExpParts e = exp_negated(clamped);
  return Isa::reciprocal(fmadd(e.mantissa, e.two_n, Vec(1.0f)).v);
}

// tanh x, odd, from |x| and x's sign bit: within 2 ulp of fp64 tanh (1.4 measured on 4 M random inputs,
// every variant; tests/test_cpu_backend.cpp).
// - |x| < 0.625: tanh x = x + x·x²·p(x²), Cephes' tanhf polynomial, accurate where 2σ(2x) − 1 would
//   cancel (its error is an ulp of 1, not of x);
// - |x| ≥ 0.625: tanh|x| = 1 − 2σ(−2|x|) with σ above (2σ ≤ 0.45 here, so the difference loses
//   nothing); 1 for |x| > 43.5, where σ's clamp leaves 2σ(−87) ≈ 3e-38.
// A NaN fails the comparison and goes through σ, which keeps it.
inline Vec tanh_of(Vec x) {
  const VI sign_bit = (VI)Vec(-0.0f).v;
  const VI sign = (VI)x.v & sign_bit;
  const Vec magnitude((V)((VI)x.v & ~sign_bit));
  const Vec square = magnitude * magnitude;
  Vec p(-5.70498872745e-3f);
  p = fmadd(p, square, Vec(2.06390887954e-2f));
  p = fmadd(p, square, Vec(-5.37397155531e-2f));
  p = fmadd(p, square, Vec(1.33314422036e-1f));
  p = fmadd(p, square, Vec(-3.33332819422e-1f));
  const Vec near_zero = fmadd(p * square, magnitude, magnitude);
  const Vec far = fmadd(Vec(-2.0f), sigmoid(Vec(-2.0f) * magnitude), Vec(1.0f));
  const Vec t = magnitude.v < Vec(0.625f).v ? near_zero.v : far.v;
  return (V)((VI)t.v | sign);
}

// max(x, 0) as activation.h's relu_of: MAXPS returns its second operand when either is NaN, so a NaN
// stays NaN (and −0 stays −0, as x < 0 ? 0 : x).
inline Vec relu_of(Vec x) { return Isa::max(Vec(0.0f).v, x.v); }
// [a > 0]: 1 or 0 per lane (0 for a NaN, as the scalar comparison).
inline Vec relu_grad_of(Vec a) { return a.v > Vec(0.0f).v ? Vec(1.0f).v : Vec(0.0f).v; }

// ---- Products: out(i, c) = epilogue(i, c, Σ_k M(i, k)·X[k][c]) ---------------------------------
// M(i, k) = m[i·m_row + k·m_col] is W_l (forward: m_row = n_in, m_col = 1) or W_lᵀ (backward:
// m_row = 1, m_col = n_in). A block of R rows × U vectors of samples is summed in registers; each M
// element is broadcast once per block and each X vector loaded once per block.
struct Matrix {
  const float* m;
  size_t row, col;  // strides
  float operator()(int i, int k) const { return m[size_t(i) * row + size_t(k) * col]; }
};

template <int R, int U, class Epilogue>
inline void product_block(Matrix M, int i0, int depth, const float* X, size_t ld_x, size_t c, Epilogue epilogue) {
  Vec acc[R][U];
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < U; ++u) acc[r][u] = Vec(0.0f);
  for (int k = 0; k < depth; ++k) {
    Vec x[U];
    for (int u = 0; u < U; ++u) x[u] = Vec::load(X + size_t(k) * ld_x + c + size_t(u) * kLanes);
    for (int r = 0; r < R; ++r) {
      const Vec m(M(i0 + r, k));
      for (int u = 0; u < U; ++u) acc[r][u] = fmadd(m, x[u], acc[r][u]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < U; ++u) epilogue(i0 + r, c + size_t(u) * kLanes, acc[r][u]);
}

// The last rows - i0 < kBlockRows rows, as one block of exactly that many.
template <int R, int U, class Epilogue>
inline void product_last_rows(int left, Matrix M, int i0, int depth, const float* X, size_t ld_x, size_t c,
                              Epilogue epilogue) {
  if constexpr (R > 1)
    if (left < R) return product_last_rows<R - 1, U>(left, M, i0, depth, X, ld_x, c, epilogue);
  product_block<R, U>(M, i0, depth, X, ld_x, c, epilogue);
}

template <int U, class Epilogue>
inline void product_columns(Matrix M, int rows, int depth, const float* X, size_t ld_x, size_t c, Epilogue epilogue) {
  constexpr int R = Isa::kBlockRows;
  int i = 0;
  for (; i + R <= rows; i += R) product_block<R, U>(M, i, depth, X, ld_x, c, epilogue);
  if (i < rows) product_last_rows<R - 1, U>(rows - i, M, i, depth, X, ld_x, c, epilogue);
}

template <class Epilogue>
inline void product(Matrix M, int rows, int depth, const float* X, size_t ld_x, size_t cols, Epilogue epilogue) {
  constexpr size_t step = size_t(Isa::kBlockVecs) * kLanes;
  const size_t n = padded_columns(cols);
  size_t c = 0;
  for (; c + step <= n; c += step) product_columns<Isa::kBlockVecs>(M, rows, depth, X, ld_x, c, epilogue);
  for (; c < n; c += kLanes) product_columns<1>(M, rows, depth, X, ld_x, c, epilogue);
}

// A_l = f(W_l A_{l-1} + b_l) for hidden layers, Z_L = W_L A_{L-1} + b_L (Act = Identity) for the
// output (§1 forward).
template <class Act>
void forward_with(const float* W, const float* b, int n_out, int n_in, const float* A_in, size_t ld_in, float* out,
                  size_t ld_out, size_t cols) {
  product(Matrix{W, size_t(n_in), 1}, n_out, n_in, A_in, ld_in, cols, [=](int i, size_t c, Vec z) {
    if (b) z = z + Vec(b[i]);
    Act::forward(z).store(out + size_t(i) * ld_out + c);
  });
}

void forward(const float* W, const float* b, int n_out, int n_in, const float* A_in, size_t ld_in, float* out,
             size_t ld_out, size_t cols, Activation f) {
  with_activation(f, [&](auto act) { forward_with<decltype(act)>(W, b, n_out, n_in, A_in, ld_in, out, ld_out, cols); });
}

// Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(A_{l-1}) (§1 backward): row j sums over the units i it feeds.
template <class Act>
void backward_with(const float* W, int n_out, int n_in, const float* D, size_t ld_d, const float* A_in, size_t ld_a,
                   float* d_in, size_t ld_din, size_t cols) {
  product(Matrix{W, 1, size_t(n_in)}, n_in, n_out, D, ld_d, cols, [=](int j, size_t c, Vec s) {
    const Vec a = Vec::load(A_in + size_t(j) * ld_a + c);
    (s * Act::grad_from_output(a)).store(d_in + size_t(j) * ld_din + c);
  });
}

void backward(const float* W, int n_out, int n_in, const float* D, size_t ld_d, const float* A_in, size_t ld_a,
              float* d_in, size_t ld_din, size_t cols, Activation f) {
  with_activation(
      f, [&](auto act) { backward_with<decltype(act)>(W, n_out, n_in, D, ld_d, A_in, ld_a, d_in, ld_din, cols); });
}

// ---- Weight gradient: dW[i][j] = Σ_c D[i][c]·A[j][c] (§1: dW = Δ A_inᵀ) -----------------------------
// A block of RI rows × RJ inputs of dW is summed in registers over all the columns.
template <int RI, int RJ>
inline void gradient_block(const float* D, size_t ld_d, const float* A, size_t ld_a, size_t n, float* dW, size_t ld_w) {
  Vec acc[RI][RJ];
  for (int i = 0; i < RI; ++i)
    for (int j = 0; j < RJ; ++j) acc[i][j] = Vec(0.0f);
  for (size_t c = 0; c < n; c += kLanes) {
    Vec d[RI], a[RJ];
    for (int i = 0; i < RI; ++i) d[i] = Vec::load(D + size_t(i) * ld_d + c);
    for (int j = 0; j < RJ; ++j) a[j] = Vec::load(A + size_t(j) * ld_a + c);
    for (int i = 0; i < RI; ++i)
      for (int j = 0; j < RJ; ++j) acc[i][j] = fmadd(d[i], a[j], acc[i][j]);
  }
  // Their sums, kLanes accumulators at a time (the last group padded with zeros, whose sums are unused).
  constexpr int kGroups = (RI * RJ + kLanes - 1) / kLanes;
  float sums[kGroups * kLanes];
  for (int g = 0; g < kGroups; ++g) {
    Vec group[kLanes];
    for (int k = 0; k < kLanes; ++k) {
      const int a = g * kLanes + k;
      group[k] = a < RI * RJ ? acc[a / RJ][a % RJ] : Vec(0.0f);
    }
    lane_sums(group).store(sums + g * kLanes);
  }
  for (int i = 0; i < RI; ++i)
    for (int j = 0; j < RJ; ++j) dW[size_t(i) * ld_w + j] = sums[i * RJ + j];
}

// A block of ri ≤ RI rows × rj ≤ RJ inputs, as the block of exactly that size.
template <int RI, int RJ>
inline void gradient_tile(int ri, int rj, const float* D, size_t ld_d, const float* A, size_t ld_a, size_t n, float* dW,
                          size_t ld_w) {
  if constexpr (RI > 1)
    if (ri < RI) return gradient_tile<RI - 1, RJ>(ri, rj, D, ld_d, A, ld_a, n, dW, ld_w);
  if constexpr (RJ > 1)
    if (rj < RJ) return gradient_tile<RI, RJ - 1>(ri, rj, D, ld_d, A, ld_a, n, dW, ld_w);
  gradient_block<RI, RJ>(D, ld_d, A, ld_a, n, dW, ld_w);
}

// db = Δ 1: Σ_c D[i][c].
inline float row_sum(const float* d, size_t n) {
  Vec acc(0.0f);
  for (size_t c = 0; c < n; c += kLanes) acc = acc + Vec::load(d + c);
  return horizontal_sum(acc);
}

void gradient(const float* D, size_t ld_d, int rows, const float* A_in, size_t ld_a, int n_in, size_t cols, float* dW,
              size_t ld_w, float* db) {
  constexpr int RI = Isa::kBlockRows, RJ = Isa::kBlockInputs;
  const size_t n = padded_columns(cols);  // the padding columns of D are 0
  for (int i = 0; i < rows; i += RI) {
    const int ri = rows - i < RI ? rows - i : RI;
    for (int j = 0; j < n_in; j += RJ) {
      const int rj = n_in - j < RJ ? n_in - j : RJ;
      gradient_tile<RI, RJ>(ri, rj, D + size_t(i) * ld_d, ld_d, A_in + size_t(j) * ld_a, ld_a, n,
                            dW + size_t(i) * ld_w + j, ld_w);
    }
  }
  if (db)
    for (int i = 0; i < rows; ++i) db[i] = row_sum(D + size_t(i) * ld_d, n);
}

// ---- Loss and output delta ---------------------------------------------------------------------------
// The head's loss terms ℓ(z, y) of a vector: Head::value on the vector itself, or for bce, whose value
// takes a lane-wise max and log1p, lane by lane in scalar code.
template <class Head>
inline Vec loss_terms(Head, Vec z, Vec y) {
  return Head::value(z, y);
}
inline Vec loss_terms(BinaryCrossEntropy, Vec z, Vec y) {
  float zs[kLanes], ys[kLanes], terms[kLanes];
  z.store(zs);
  y.store(ys);
  binary_cross_entropy_terms(zs, ys, terms, kLanes);
  return Vec::load(terms);
}

// The head on one vector of logits z and targets y whose first `valid` lanes are samples (every lane
// where valid ≥ kLanes): adds their loss terms to `loss` and returns Δ_L = (1/B) dℓ/dz for them. The
// padding adds nothing to the loss and gets Δ = 0 exactly.
template <class Head>
inline Vec head_vector(Vec z, Vec y, float inv_B, size_t valid, Vec& loss) {
  const Vec sum = loss + loss_terms(Head{}, z, y);  // Σ ℓ(Z, Y) (mse: one fused ℓ + (z − y)²)
  const Vec delta = Head::delta(z, y) * Vec(inv_B);  // Δ_L = (1/B) dℓ/dz
  if (valid >= size_t(kLanes)) {
    loss = sum;
    return delta;
  }
  loss = first_lanes(valid, sum, loss);
  return first_lanes(valid, delta, Vec(0.0f));
}

// The columns of the vector starting at column c that are samples of a pass of `cols`.
inline size_t valid_columns(size_t c, size_t cols) { return c < cols ? cols - c : 0; }

template <class Head>
float output_delta_with(const float* Z, size_t ld_z, const float* Y, size_t ld_y, int n_out, size_t cols, float inv_B,
                        float* D, size_t ld_d) {
  const size_t n = padded_columns(cols);
  Vec loss(0.0f);
  for (int o = 0; o < n_out; ++o)
    for (size_t c = 0; c < n; c += kLanes) {
      const Vec z = Vec::load(Z + size_t(o) * ld_z + c), y = Vec::load(Y + size_t(o) * ld_y + c);
      head_vector<Head>(z, y, inv_B, valid_columns(c, cols), loss).store(D + size_t(o) * ld_d + c);
    }
  return horizontal_sum(loss);
}

float output_delta(const float* Z, size_t ld_z, const float* Y, size_t ld_y, int n_out, size_t cols, float inv_B,
                   float* D, size_t ld_d, Loss loss, Activation output) {
  return with_head(loss, output, [&](auto head) {
    return output_delta_with<decltype(head)>(Z, ld_z, Y, ld_y, n_out, cols, inv_B, D, ld_d);
  });
}

// ---- Elementwise halves, after a BLAS product --------------------------------------------------------
template <class Act>
void bias_activation_with(float* Z, size_t ld_z, const float* b, int rows, size_t cols) {
  const size_t n = padded_columns(cols);
  for (int i = 0; i < rows; ++i) {
    float* z = Z + size_t(i) * ld_z;
    const Vec bias(b ? b[i] : 0.0f);
    for (size_t c = 0; c < n; c += kLanes) Act::forward(Vec::load(z + c) + bias).store(z + c);
  }
}

void bias_activation(float* Z, size_t ld_z, const float* b, int rows, size_t cols, Activation f) {
  with_activation(f, [&](auto act) { bias_activation_with<decltype(act)>(Z, ld_z, b, rows, cols); });
}

template <class Act>
void times_activation_grad_with(float* D, size_t ld_d, const float* A, size_t ld_a, int rows, size_t cols) {
  const size_t n = padded_columns(cols);
  for (int i = 0; i < rows; ++i)
    for (size_t c = 0; c < n; c += kLanes) {
      float* d = D + size_t(i) * ld_d + c;
      (Vec::load(d) * Act::grad_from_output(Vec::load(A + size_t(i) * ld_a + c))).store(d);
    }
}

void times_activation_grad(float* D, size_t ld_d, const float* A, size_t ld_a, int rows, size_t cols, Activation f) {
  with_activation(f, [&](auto act) { times_activation_grad_with<decltype(act)>(D, ld_d, A, ld_a, rows, cols); });
}

template <class Act>
void activation_array_with(const float* x, float* y, size_t n) {
  size_t k = 0;
  for (; k + kLanes <= n; k += kLanes) Act::forward(Vec::load(x + k)).store(y + k);
  if (k == n) return;
  float tail[kLanes] = {};
  for (size_t t = k; t < n; ++t) tail[t - k] = x[t];
  Act::forward(Vec::load(tail)).store(tail);
  for (size_t t = k; t < n; ++t) y[t] = tail[t - k];
}

void activation_array(Activation f, const float* x, float* y, size_t n) {
  with_activation(f, [&](auto act) { activation_array_with<decltype(act)>(x, y, n); });
}

// The epoch's order (math/epoch_shuffle.h) for positions [first, first + count), kLanes at a time:
// one application of the Feistel network to each position, then the cycle-walks of those that landed
// outside [0, n), gathered into a list that is walked a vector at a time until it is empty (each walk
// ends: see epoch_shuffle.h). Branch-free list making: where the lanes' outcomes are random, a branch
// per lane costs more than the network itself.
using VU = uint32_t __attribute__((vector_size(sizeof(V))));

// Appends the first `lanes` of the kLanes values at x that are ≥ n to value, and their indices
// first + k to where; returns how many. One compress instruction each where the instruction set has
// it (Isa::kCompress: AVX-512, 16 lanes at once, writing kLanes slots of room), else lane by lane
// without a branch (each lane is written, and kept by advancing the count).
template <class I>
size_t append_outside(const uint32_t* x, int lanes, uint32_t n, uint32_t first, uint32_t* where, uint32_t* value) {
  if constexpr (I::kCompress) {
    return I::compress_at_least(x, lanes, n, first, where, value);
  } else {
    size_t appended = 0;
    for (int k = 0; k < lanes; ++k) {
      where[appended] = first + uint32_t(k);
      value[appended] = x[k];
      appended += x[k] >= n;
    }
    return appended;
  }
}

template <int Rounds>
void epoch_rows_in(const EpochShuffle& shuffle, size_t first, size_t count, uint32_t* rows) {
  const EpochShuffle s = shuffle;  // a local copy: the stores to rows cannot change it
  VU lane_index;                   // 0, 1, …, kLanes − 1
  for (int k = 0; k < kLanes; ++k) lane_index[k] = uint32_t(k);
  constexpr size_t kRun = 512;     // positions a list is made for
  uint32_t where[kRun + kLanes], value[kRun + kLanes];
  for (size_t done = 0; done < count; done += kRun) {
    const size_t run = count - done < kRun ? count - done : kRun;
    uint32_t* out = rows + done;
    // The network on every position first, vectors only: each is a chain of dependent multiplies,
    // which the processor overlaps across vectors only where no scalar work sits between them.
    uint32_t permuted[kRun];
    for (size_t i = 0; i < run; i += kLanes) {
      const VU x = s.permute_in<Rounds>(lane_index + uint32_t(first + done + i));
      __builtin_memcpy(permuted + i, &x, sizeof x);
    }
    __builtin_memcpy(out, permuted, run * sizeof(uint32_t));  // final if inside [0, n); else its walk's
    size_t walking = 0;
    for (size_t i = 0; i < run; i += kLanes)
      walking += append_outside<Isa>(permuted + i, int(run - i < size_t(kLanes) ? run - i : size_t(kLanes)), s.n,
                                     uint32_t(i), where + walking, value + walking);
    while (walking > 0) {
      for (size_t k = walking; k % size_t(kLanes) != 0; ++k) value[k] = 0;  // padding, never stored
      size_t still = 0;
      for (size_t k = 0; k < walking; k += kLanes) {
        VU x;
        __builtin_memcpy(&x, value + k, sizeof x);
        x = s.permute_in<Rounds>(x);
        for (int j = 0; j < kLanes && k + size_t(j) < walking; ++j) {
          const uint32_t w = where[k + size_t(j)];
          out[w] = x[j];
          where[still] = w;
          value[still] = x[j];
          still += x[j] >= s.n;
        }
      }
      walking = still;
    }
  }
}

void epoch_rows(const EpochShuffle& shuffle, size_t first, size_t count, uint32_t* rows) {
  if (shuffle.rounds == kFeistelRounds)
    epoch_rows_in<kFeistelRounds>(shuffle, first, count, rows);
  else
    epoch_rows_in<kFeistelSmallRounds>(shuffle, first, count, rows);
}

// ---- Small networks in registers ----------------------------------------------------------------
// A training chunk of a network whose widths are constants (Layout: math/static_shape.h), kLanes
// samples at a time through every layer: sample_math.h's per-sample formulas (§1) on vectors of
// samples, each sample's activations and deltas and the gradient's accumulators held as locals, where
// the layered kernels above store each layer's A_l and Δ_l of the whole chunk and read them back. The
// sums keep the kernels' order: lane k accumulates columns k, k + kLanes, …, then the lanes are added
// pairwise. Padding columns get Δ = 0 and add nothing to the loss.
template <class Layout, class Act, class Head>
float static_chunk_with(const StaticChunk& job) {
  using N = Layout;
  constexpr int L = N::kLayers, P = N::kParams;
  Vec theta[P], grad[P];  // θ in every lane; lane k's share of dθ
  for (int e = 0; e < P; ++e) {
    theta[e] = Vec(job.theta[e]);
    grad[e] = Vec(0.0f);
  }
  Vec loss(0.0f);
  const size_t cols = job.cols, columns = padded_columns(cols);
  for (size_t c = 0; c < columns; c += kLanes) {
    Vec acts[N::kUnits];    // a_0 … a_L of the vector's samples (a_L: the logits z)
    Vec deltas[N::kUnits];  // Δ_1 … Δ_L, at a_l's places
    for (int j = 0; j < N::kInputs; ++j) acts[j] = Vec::load(job.A0 + size_t(j) * job.ld + c);
    static_for<1, L>([&](auto layer) {  // a_l = f(W_l a_{l-1} + b_l), the logits z_L
      constexpr int l = decltype(layer)::value, w = N::weight_offset(l), b = N::bias_offset(l);
      constexpr int in = N::unit_offset(l - 1), out = N::unit_offset(l);
      dense_forward_sample<Act>(theta + w, N::kBias ? theta + b : nullptr, acts + in, acts + out, N::width(l - 1),
                                N::width(l), l < L);
    });
    // Δ_L = (1/B) dℓ/dz and the loss terms, for the vector's columns before `cols` only.
    constexpr int z = N::unit_offset(L);
    for (int o = 0; o < N::kOutputs; ++o)
      deltas[z + o] =
          head_vector<Head>(acts[z + o], Vec::load(job.Y + size_t(o) * job.ld + c), job.inv_B, valid_columns(c, cols), loss);
    static_for_down<L, 2>([&](auto layer) {  // Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(a_{l-1})
      constexpr int l = decltype(layer)::value, w = N::weight_offset(l);
      constexpr int in = N::unit_offset(l - 1), out = N::unit_offset(l);
      dense_backward_sample<Act>(theta + w, deltas + out, acts + in, deltas + in, N::width(l - 1), N::width(l));
    });
    static_for<1, L>([&](auto layer) {  // dW_l += Δ_l a_{l-1}ᵀ, db_l += Δ_l
      constexpr int l = decltype(layer)::value, w = N::weight_offset(l), b = N::bias_offset(l);
      constexpr int in = N::unit_offset(l - 1), out = N::unit_offset(l);
      add_gradient_sample(deltas + out, acts + in, grad + w, N::kBias ? grad + b : nullptr, N::width(l - 1),
                          N::width(l));
    });
  }
  for (int e = 0; e < P; ++e) job.grad[e] = horizontal_sum(grad[e]);
  return horizontal_sum(loss);
}

float static_chunk(const StaticChunk& job) {
  float loss = 0.0f;
  with_shape_at(job.shape, CpuStaticShapes{}, [&](auto shape) {
    with_activation(job.hidden, [&](auto act) {
      with_head(job.loss, job.output, [&](auto head) {
        using Shape = decltype(shape);
        using Act = decltype(act);
        using Head = decltype(head);
        loss = job.bias ? static_chunk_with<StaticLayout<Shape, true>, Act, Head>(job)
                        : static_chunk_with<StaticLayout<Shape, false>, Act, Head>(job);
      });
    });
  });
  return loss;
}

// Constant-initialised: taking the table runs no code of this instruction set.
constexpr CpuKernels kKernels = {Isa::kName,       kLanes,        &forward,         &backward,
                                 &gradient,        &output_delta, &bias_activation, &times_activation_grad,
                                 &activation_array, &epoch_rows, &static_chunk};
