#!/usr/bin/env bash
# Copies what the build needs and the lent GPU machine lacks (no package registry there) into .deps/,
# an ignored folder that the device tool carries: the header-only CLI11 and nlohmann-json, and
# GoogleTest's sources. CMake falls back to them when find_package finds nothing (CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .deps
mkdir -p .deps/include
cp -r /usr/include/CLI .deps/include/
cp -r /usr/include/nlohmann .deps/include/
cp -r /usr/src/googletest .deps/googletest
du -sh .deps
