#!/usr/bin/env bash
# Create .venv (if absent) and install fuserec with its test extras.
# torch==2.13.0 (CPU) is installed first so that nothing pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
# the test extras, and the Spark engine (SWING and text encoding; its tests skip without Java)
.venv/bin/python -m pip install -q -e ".[test,spark]"
