#!/usr/bin/env bash
# Copies what the build needs and the lent GPU machine lacks (no package registry there) into .deps/,
# an ignored folder that the device tool carries: the header-only CLI11 and nlohmann-json, and
# GoogleTest's sources. CMake falls back to them when find_package finds nothing (CMakeLists.txt).
# Also, for the device check's FANN peer, FANN's headers and its static fp32 library (libfloatfann.a,
# Debian: libfann-dev) in .deps/fann/; bench/device_check.sh builds bench/peers/fann_peer.cpp against
# them there. Without libfann-dev here the FANN peer is left out (the check then says so).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .deps
mkdir -p .deps/include
cp -r /usr/include/CLI .deps/include/
cp -r /usr/include/nlohmann .deps/include/
cp -r /usr/src/googletest .deps/googletest
floatfann=$(find /usr/lib /usr/local/lib -name libfloatfann.a 2>/dev/null | head -n 1)
if [ -n "$floatfann" ] && [ -f /usr/include/floatfann.h ]; then
  mkdir -p .deps/fann/include .deps/fann/lib
  cp /usr/include/*fann*.h .deps/fann/include/
  cp "$floatfann" .deps/fann/lib/
else
  echo "prepare_device_deps: no libfloatfann.a (Debian: libfann-dev): the device check will skip the FANN peer" >&2
fi
du -sh .deps
