#!/usr/bin/env bash
# The quick start (README.md):
#   ./build.sh train [flags]   install what is missing, build, train (the notes' network on the sine set)
#   ./build.sh test            install what is missing, build, run the whole test suite
#   ./build.sh                 install what is missing and build
# Packages come from Debian (apt-get); the build goes to ./build (BUILD_DIR to change it;
# SIGTRAIN_CMAKE_FLAGS adds CMake settings when the folder is made).
set -euo pipefail
cd "$(dirname "$0")"
build_dir=${BUILD_DIR:-build}

# Debian packages the build needs: compiler and tools, CLI11, nlohmann-json, GoogleTest, OpenBLAS (the
# cpu backend's wide layers) and FANN (the benchmark's peer); for the Python module and its tests
# (python/, tests/python/): Python's headers, pybind11, NumPy, scikit-learn and pytest; Open MPI for
# training over ranks (mpirun; host/mpi/) and its tests.
# SIGTRAIN_EXTRA_PACKAGES: more of them (.ci/run: Clang and its OpenMP for the fuzz targets).
# shellcheck disable=SC2206
packages=(cmake g++ make ninja-build libcli11-dev nlohmann-json3-dev libgtest-dev libopenblas-dev libfann-dev
  python3-dev pybind11-dev python3-numpy python3-sklearn python3-pytest openmpi-bin libopenmpi-dev
  ${SIGTRAIN_EXTRA_PACKAGES:-})
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "build.sh: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  # SIGTRAIN_CMAKE_FLAGS: more settings for a new build folder (.ci/run: warnings as errors, sanitizers).
  # shellcheck disable=SC2086
  # The Python module for Debian's python3, whose NumPy, scikit-learn and pytest are installed above
  # (another python3 first on PATH, e.g. pyenv's, would lack them).
  python_flag=()
  [ -x /usr/bin/python3 ] && python_flag=(-DPython_EXECUTABLE=/usr/bin/python3)
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${python_flag[@]}" ${SIGTRAIN_CMAKE_FLAGS:-} >/dev/null
fi
cmake --build "$build_dir" -j "$jobs"

case "${1:-}" in
  train) shift; exec "$build_dir/sigtrain" train "$@" ;;
  test) exec ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" ;;
  "") ;;
  *) echo "usage: ./build.sh [train [flags] | test]" >&2; exit 2 ;;
esac
