#!/usr/bin/env bash
# What `make bench` needs beyond `make test`: oneTBB for the C++ wrapper's benchmark and the
# parallel-loop peers, libuv's headers for the completion-queue bench (also installed by
# .ci/run for the examples), OpenMP (gcc's libgomp, libgomp1 + gcc on Debian) for benches/pfor.
# Installs it with apt-get when run as root on Debian/Ubuntu; otherwise says what to install.
set -euo pipefail
if echo '#include <oneapi/tbb/task_group.h>' | c++ -std=c++17 -x c++ -fsyntax-only - 2>/dev/null &&
   echo '#include <uv.h>' | cc -x c -fsyntax-only - 2>/dev/null &&
   echo '#include <omp.h>' | cc -fopenmp -x c -fsyntax-only - 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libtbb-dev libuv1-dev libgomp1 >/dev/null
else
  echo "make bench needs oneTBB, libuv and OpenMP: install libtbb-dev libuv1-dev libgomp1 (Debian/Ubuntu) or your system's" >&2
  exit 1
fi
