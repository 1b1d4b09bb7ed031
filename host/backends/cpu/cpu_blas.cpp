#include "backends/cpu/cpu_blas.h"

#include <cstdlib>
#include <stdexcept>

#if defined(__linux__)
#include <dlfcn.h>
#endif

namespace sigtrain {

namespace {

// The few OpenBLAS functions used, with the types of its cblas.h (32-bit integers: Debian's build;
// 101 = CblasRowMajor, 111 = CblasNoTrans, 112 = CblasTrans).
struct OpenBlas {
  void (*sgemm)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* A, int ld_a,
                const float* B, int ld_b, float beta, float* C, int ld_c) = nullptr;
  void (*set_num_threads)(int) = nullptr;
  char* (*get_config)() = nullptr;
  char* (*get_corename)() = nullptr;
  std::string why_not;  // empty when loaded
};

// OpenBLAS picks its kernels from the processor when it is loaded, and falls back to slow generic
// ones (Prescott: SSE3) on processors newer than itself, as Debian 12's 0.3.21 does on current
// Xeons: 21 instead of 100 GFLOPS here. Unless the user chose with OPENBLAS_CORETYPE, ask for the
// widest kernels this processor runs; it must be set before loading, which is why OpenBLAS is loaded
// here and not linked.
void choose_openblas_kernels() {
#if defined(__x86_64__)
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  if (avx512)
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
  else if (avx2)
    setenv("OPENBLAS_CORETYPE", "Haswell", 0);
#endif
}

OpenBlas load_openblas() {
  OpenBlas lib;
#if defined(__linux__)
  choose_openblas_kernels();
  void* handle = nullptr;
  for (const char* name : {"libopenblas.so.0", "libopenblas.so"})
    if ((handle = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
  if (!handle) {
    lib.why_not = "OpenBLAS not found (Debian: libopenblas0)";
    return lib;
  }
  lib.sgemm = reinterpret_cast<decltype(lib.sgemm)>(dlsym(handle, "cblas_sgemm"));
  lib.set_num_threads = reinterpret_cast<decltype(lib.set_num_threads)>(dlsym(handle, "openblas_set_num_threads"));
  lib.get_config = reinterpret_cast<decltype(lib.get_config)>(dlsym(handle, "openblas_get_config"));
  lib.get_corename = reinterpret_cast<decltype(lib.get_corename)>(dlsym(handle, "openblas_get_corename"));
  if (!lib.sgemm || !lib.set_num_threads || !lib.get_config || !lib.get_corename) {
    lib.why_not = "the OpenBLAS found lacks cblas_sgemm or openblas_set_num_threads";
    return lib;
  }
  // One thread per call, for the whole process (it is one setting): see cpu_sgemm.
  lib.set_num_threads(1);
#else
  lib.why_not = "OpenBLAS is only loaded on Linux";
#endif
  return lib;
}

const OpenBlas& openblas() {
  static const OpenBlas lib = load_openblas();
  return lib;
}

}  // namespace

bool cpu_blas_available() { return openblas().why_not.empty(); }

std::string cpu_blas_name() {
  const OpenBlas& lib = openblas();
  if (!lib.why_not.empty()) return "none: " + lib.why_not;
  return std::string(lib.get_config()) + " (" + lib.get_corename() + ")";
}

void cpu_sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, const float* A, size_t ld_a, const float* B,
               size_t ld_b, float* C, size_t ld_c) {
  const OpenBlas& lib = openblas();
  if (!lib.sgemm) throw std::logic_error("cpu_sgemm without OpenBLAS: " + lib.why_not);
  lib.sgemm(101, transpose_a ? 112 : 111, transpose_b ? 112 : 111, m, n, k, 1.0f, A, int(ld_a), B, int(ld_b), 0.0f, C,
            int(ld_c));
}

}  // namespace sigtrain
