#!/usr/bin/env bash
# Creates the separate Python environment in which benchmarks/bench_dlrm.py runs TorchRec
# (so that TorchRec and fbgemm never touch the project's environment).
#
#   benchmarks/make_torchrec_env.sh [VENV_DIR]
#
# VENV_DIR defaults to $FUSEREC_TORCHREC_VENV, else ../torchrec-venv next to the repository
# (bench_dlrm.py looks there by default). The project's interpreter is $PYTHON (default: the
# `python3` on PATH, which should be the project's environment); the new environment sees its
# packages (torch, numpy) through a .pth file, so TorchRec is timed on the very same torch
# build as fuserec, and only TorchRec, fbgemm-gpu-cpu and their small pure-Python dependencies
# are installed (pinned: the versions of the recorded results).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
venv="${1:-${FUSEREC_TORCHREC_VENV:-$repo/../torchrec-venv}}"
python="${PYTHON:-python3}"
TORCHREC_VERSION="${TORCHREC_VERSION:-1.8.0}"
FBGEMM_VERSION="${FBGEMM_VERSION:-1.8.0}"

site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$python" -c 'import torch' || { echo "make_torchrec_env: $python has no torch; set PYTHON to the project's interpreter" >&2; exit 2; }
echo "creating $venv (sharing torch from $site)"
"$python" -m venv --without-pip "$venv" 2>/dev/null || "$python" -m venv "$venv"
"$venv/bin/python" -m ensurepip --upgrade >/dev/null 2>&1 || true
venv_site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$site" > "$venv_site/_fuserec_project_site.pth"
# torchrec's metadata asks for `fbgemm-gpu` (the CUDA build); the CPU build is fbgemm-gpu-cpu.
"$venv/bin/python" -m pip install --quiet --no-deps "torchrec==$TORCHREC_VERSION" "fbgemm-gpu-cpu==$FBGEMM_VERSION"
"$venv/bin/python" -m pip install --quiet "torchmetrics==1.0.3" tensordict pyre-extensions tqdm iopath
"$venv/bin/python" -c 'import torch, torchrec, fbgemm_gpu; from torchrec.modules.fused_embedding_modules import FusedEmbeddingBagCollection; print("ok: torch", torch.__version__, "torchrec", torchrec.__version__ if hasattr(torchrec, "__version__") else "?")'
echo "TorchRec environment ready: $venv/bin/python"
