"""IRLLRec with ``intent_layers: 1`` against the default (all L = 3 tower layers), paired by seed.

Reads RUNS/default-s{k}/metrics.json and RUNS/layers1-s{k}/metrics.json (seed k: initialisation k,
split seed 2024 + k) and prints a Markdown table of test metrics at the best validation epoch with
the paired difference and its 95% t-interval over seeds.

    python docs/results/irllrec/intent-layers/summarize.py RUNS
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fuserec.stats import paired_difference


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, help="folder holding default-s{k}/ and layers1-s{k}/ run directories")
    args = ap.parse_args()
    pairs = []
    for k in range(100):
        a, b = (args.runs / f"{arm}-s{k}" / "metrics.json" for arm in ("default", "layers1"))
        if a.exists() and b.exists():
            ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
            if "test" in ma and "test" in mb:
                pairs.append((k, ma, mb))
    if len(pairs) < 2:
        raise SystemExit(f"need at least 2 finished seed pairs under {args.runs}, found {len(pairs)}")
    print(f"seeds: {[k for k, _, _ in pairs]}\n")
    print("| metric | default (all 3 layers) | intent_layers 1 | Δ (1 − default), 95% t-interval | per seed |")
    print("|---|---:|---:|---|---|")
    for key in ("recall@20", "ndcg@20", "recall@10", "ndcg@10"):
        a = [m["test"][key] for _, m, _ in pairs]
        b = [m["test"][key] for _, _, m in pairs]
        d, lo, hi = paired_difference(b, a)
        per = ", ".join(f"{y - x:+.4f}" for x, y in zip(a, b))
        print(f"| test {key} | {np.mean(a):.4f} ± {np.std(a, ddof=1):.4f} | {np.mean(b):.4f} ± "
              f"{np.std(b, ddof=1):.4f} | {d:+.4f} [{lo:+.4f}, {hi:+.4f}] | {per} |")
    epochs = {arm: ", ".join(f"{m['best']['epoch']}/{m['epochs_run']}" for m in ms)
              for arm, ms in (("default", [p[1] for p in pairs]), ("intent_layers 1", [p[2] for p in pairs]))}
    print(f"\nbest epoch / epochs run: default {epochs['default']}; intent_layers 1 {epochs['intent_layers 1']}")
    print("every run stopped early:", all(p[1]["stopped_early"] and p[2]["stopped_early"] for p in pairs))


if __name__ == "__main__":
    main()
