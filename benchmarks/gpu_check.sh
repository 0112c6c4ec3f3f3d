#!/usr/bin/env bash
# The GPU path, measured in one short run (about 10 minutes on one recent NVIDIA GPU):
#
#   benchmarks/gpu_check.sh [OUT_DIR]
#
# 1. the default test suite with CUDA visible (every test that trains through the trainer runs
#    on the GPU: train.device defaults to `auto`);
# 2. epoch times on CUDA of lightgcn, irllrec in batch and full text mode (384-d random text
#    vectors, as benchmarks/bench_irllrec.py), and dlrrec, on Amazon-book and on the synthetic world;
# 3. full-ranking evaluation on the GPU (the runs' eval_seconds: every user ranked against every
#    item, training items masked);
# 4. a multi-process run with the nccl backend (2 processes when 2 GPUs are visible, else 1).
#
# Writes OUT_DIR (default benchmarks/results/gpu-<gpu name>/): summary.md (one line per step:
# command, exit status, wall time, epoch seconds, test recall@20), each step's log and run dir.
# Data: $FUSEREC_DATA, else ../shared/data next to the repository. Python: $PYTHON, else the
# repository's .venv/bin/python, else python3. A step that fails is recorded and the script goes on.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"
python="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export FUSEREC_DATA="${FUSEREC_DATA:-$(cd .. && pwd)/shared/data}"
amazon="irllrec:$FUSEREC_DATA/irllrec/amazon"

gpu="$("$python" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")')"
if [ -z "$gpu" ]; then
    echo "gpu_check: torch sees no CUDA device; nothing to measure" >&2
    exit 2
fi
n_gpus="$("$python" -c 'import torch; print(torch.cuda.device_count())')"
slug="$(echo "$gpu" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-' | sed 's/-$//')"
out="${1:-benchmarks/results/gpu-$slug}"
mkdir -p "$out"
summary="$out/summary.md"
{
    echo "# GPU check: $gpu"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), ${n_gpus} GPU(s), $("$python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)'), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/    /'
    echo
    echo "| step | exit | wall s | median epoch s | median full-ranking eval s | test recall@20 | command |"
    echo "|---|---:|---:|---:|---:|---:|---|"
} > "$summary"

# step NAME TIMEOUT_S COMMAND...: run, log to $out/NAME.log, add a summary line
step() {
    local name="$1" limit="$2"; shift 2
    echo "== $name: $*"
    local start end rc
    start=$(date +%s%N)
    timeout "$limit" "$@" > "$out/$name.log" 2>&1
    rc=$?
    end=$(date +%s%N)
    local times="| |" recall=""
    if [ -f "$out/$name/curves.csv" ]; then
        times="$("$python" - "$out/$name/curves.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def med(key):
    vals = [float(r[key]) for r in rows if r.get(key)]
    return f"{statistics.median(vals):.3f}" if vals else ""
print(f"{med('epoch_seconds')} | {med('eval_seconds')}")
PY
)"
    fi
    if [ -f "$out/$name/metrics.json" ]; then
        recall="$("$python" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(round(m.get("test", {}).get("recall@20", float("nan")), 4))' "$out/$name/metrics.json" 2>/dev/null)"
    fi
    printf '| %s | %s | %s | %s | %s | `%s` |\n' "$name" "$rc" "$(( (end - start) / 1000000000 ))" "$times" "$recall" "$*" >> "$summary"
    tail -n 3 "$out/$name.log"
}

train() {   # train NAME DATASET MODEL EPOCHS [--set ...]
    local name="$1" data="$2" model="$3" epochs="$4"; shift 4
    step "$name" 600 "$python" -m fuserec --threads 4 train --model "$model" --dataset "$data" --no-progress \
        --out "$out/$name" --set train.device=cuda train.epochs="$epochs" train.eval_every="$epochs" "$@"
}

text384=(model.profile_source=random:384 model.intent_source=random:384)

step tests 900 "$python" -m pytest -q -p no:cacheprovider -x
train lightgcn-amazon "$amazon" lightgcn 9 train.batch_size=4096 train.eval_every=3
train irllrec-batch-amazon "$amazon" irllrec 3 train.batch_size=4096 "${text384[@]}"
train irllrec-full-amazon "$amazon" irllrec 1 train.batch_size=4096 "${text384[@]}" model.text_mode=full
train dlrrec-amazon "$amazon" dlrrec 2
train lightgcn-synthetic synthetic lightgcn 10
train irllrec-batch-synthetic synthetic irllrec 3
train dlrrec-synthetic synthetic dlrrec 3
np=$(( n_gpus >= 2 ? 2 : 1 ))
step "nccl-${np}proc" 600 "$python" -m fuserec --threads 4 train --nproc "$np" --model mf --dataset synthetic \
    --no-progress --out "$out/nccl-${np}proc" --set train.device=cuda train.epochs=5 train.eval_every=5
grep -h "backend\|nccl" "$out/nccl-${np}proc.log" | head -n 3 >> "$out/nccl-${np}proc.backend" 2>/dev/null || true

echo
cat "$summary"
