#!/usr/bin/env bash
# Two "nodes" on this machine: two torchrun agents joined by a c10d rendezvous on 127.0.0.1 (gloo),
# then a single-process run of the same model with the same effective batch, and both runs' metrics.
# On a cluster run the same torchrun line on every node with --rdzv_endpoint HEAD_NODE:29400
# (see docs/scale.md). Usage: scripts/two_node_train.sh [DATASET] [OUT_DIR] [EPOCHS]
set -euo pipefail
DATASET=${1:-irllrec:../shared/data/irllrec/amazon}
OUT=${2:-runs/two-node}
EPOCHS=${3:-20}
PY=${PYTHON:-python}
PORT=${PORT:-29431}
SET=(train.epochs=$EPOCHS train.lr=0.005 train.eval_every=1 train.patience=3 train.device=cpu model.dim=64)
mkdir -p "$OUT"
for host in 1 0; do
  "$PY" -m torch.distributed.run --nnodes 2 --nproc_per_node 1 --rdzv_backend c10d \
    --rdzv_endpoint 127.0.0.1:$PORT --rdzv_id fuserec-two-node --rdzv_conf is_host=$host --max_restarts 0 \
    -m fuserec --threads 1 train --model mf --dataset "$DATASET" --seed 0 --no-progress \
    --out "$OUT/nodes2" --set "${SET[@]}" train.batch_size=1024 &
done
wait
"$PY" -m fuserec --threads 1 train --model mf --dataset "$DATASET" --seed 0 --no-progress \
  --out "$OUT/single" --set "${SET[@]}" train.batch_size=2048
"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for name in ("nodes2", "single"):
    m = json.loads((out / name / "metrics.json").read_text())
    d = m.get("distributed", {})
    print(f"{name}: epochs {len(m['history'])}, best epoch {m['best']['epoch']}, "
          f"world size {d.get('world_size', 1)}, nodes {sorted({p['node_rank'] for p in d.get('processes', [])}) or '-'}")
    print("  test: " + ", ".join(f"{k}={v:.4f}" for k, v in m["test"].items() if k != "n_users"))
PYEOF
