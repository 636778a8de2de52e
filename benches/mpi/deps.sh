#!/usr/bin/env bash
# What `make bench-mpi` needs: mpi4py from PyPI in a venv (target/mpi4py-venv). Its wheel
# finds the system's Open MPI (libmpi.so.40) at run time, so both sides run on the same MPI.
set -euo pipefail
VENV=${1:?venv path}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import mpi4py' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q mpi4py
fi
