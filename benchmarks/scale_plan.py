"""The scale plan's tables, computed from the measured results (docs/scale.md).

Reads ``results/scale.json`` (bench_scale.py) and ``results/swing_spark.json`` (bench_swing_spark.py),
fits log-log slopes of time and peak memory per stage, and extrapolates each stage from its largest
measured size to the target (1e9 interactions, 1e8 users, 1e7 items assumed). Writes
``results/scale_plan.md``; every extrapolated number is marked as such.

    python benchmarks/scale_plan.py
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = {"interactions": 1e9, "users": 1e8, "items": 1e7}
DIM = 64


def slope(points):
    xs = sorted({x for x, _ in points})
    if len(xs) < 2:
        return None
    x = np.log([p[0] for p in points])
    y = np.log([p[1] for p in points])
    return float(np.polyfit(x, y, 1)[0])


def stage_points(runs, key_stage, key_size="size"):
    """{size: (median seconds, median peak MiB, median load)} of one stage."""
    by = {}
    for r in runs:
        if "seconds" in r and r.get("stage", r.get("engine")) == key_stage:
            by.setdefault(r[key_size], []).append(r)
    return {size: (statistics.median(x["seconds"] for x in rs), statistics.median(x["peak_rss_mib"] for x in rs),
                   statistics.median(x.get("loadavg_start", float("nan")) for x in rs)) for size, rs in sorted(by.items())}


def extrapolate(points: dict, target: float, default_slope: float = 1.0):
    sizes = sorted(points)
    big = sizes[-1]
    t_slope = slope([(s, points[s][0]) for s in sizes])
    base = min(points[s][1] for s in sizes) if len(sizes) > 1 else 0.0
    m_slope = slope([(s, points[s][1] - base * 0.8) for s in sizes])  # growth above 80 % of the smallest run
    ts = t_slope if t_slope is not None else default_slope
    t = points[big][0] * (target / big) ** ts
    mem = None
    if m_slope is not None:
        mem = base * 0.8 + (points[big][1] - base * 0.8) * (target / big) ** m_slope
    return {"largest": big, "seconds": points[big][0], "peak_mib": points[big][1], "load": points[big][2],
            "time_slope": t_slope, "mem_slope": m_slope, "target": target, "target_seconds": t, "target_mib": mem,
            "slope_used": ts}


def fmt_time(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"


def fmt_mem(mib: float | None) -> str:
    if mib is None:
        return "–"
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def main() -> None:
    scale = json.loads((RESULTS / "scale.json").read_text())
    swing = json.loads((RESULTS / "swing_spark.json").read_text())
    extra = RESULTS / "swing_single_x64.json"  # a second single-machine ×64 run (--engines single)
    if extra.exists():
        swing["runs"] += json.loads(extra.read_text())["runs"]
    rows = []
    stages = {
        "load": ("interactions (all splits)", TARGET["interactions"] * 200860 / 120464),
        "generate": ("template texts", TARGET["users"] + TARGET["items"]),
        "encode": ("texts encoded", TARGET["users"] + TARGET["items"]),
        "train": ("training interactions per epoch (MF, dim 64)", TARGET["interactions"]),
        "evaluate": ("user × item scores (full ranking)", TARGET["users"] * TARGET["items"]),
    }
    for stage, (unit, target) in stages.items():
        pts = stage_points(scale["runs"], stage)
        if pts:
            rows.append((stage, unit, extrapolate(pts, target)))
    for engine in ("single", "spark"):
        pts = {}
        for r in swing["runs"]:
            if r["engine"] == engine and "seconds" in r:
                pts.setdefault(r["interactions"], []).append(r)
        pts = {k: (statistics.median(x["seconds"] for x in v), statistics.median(x["peak_rss_mib"] for x in v),
                   statistics.median(x["loadavg_start"] for x in v)) for k, v in sorted(pts.items())}
        if pts:
            rows.append((f"SWING ({engine}{', ' + swing['master'] if engine == 'spark' else ''})",
                         "training interactions (item side, top-50)", extrapolate(pts, TARGET["interactions"])))
    lines = ["| stage | work unit | largest run here [measured] | time [measured] | peak RSS [measured] | load avg "
             "| slope time / memory [measured] | at target: work | time, one core / local[2] [extrapolated] "
             "| memory, one process [extrapolated] |",
             "|---|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for stage, unit, e in rows:
        ts = "–" if e["time_slope"] is None else f"{e['time_slope']:.2f}"
        ms = "–" if e["mem_slope"] is None else f"{e['mem_slope']:.2f}"
        note = "" if e["time_slope"] is not None else " (slope 1 assumed)"
        lines.append(f"| {stage} | {unit} | {e['largest']:,.0f} | {e['seconds']:.1f} s | {fmt_mem(e['peak_mib'])} | "
                     f"{e['load']:.0f} | {ts} / {ms} | {e['target']:.1e} | {fmt_time(e['target_seconds'])}{note} | "
                     f"{fmt_mem(e['target_mib'])} |")
    emb_gib = (TARGET["users"] + TARGET["items"]) * DIM * 4 / 2**30
    lines += ["", f"Embedding table at the target (MF, dim {DIM}, float32) [extrapolated, arithmetic]: "
                  f"{emb_gib:.0f} GiB of parameters, {3 * emb_gib:.0f} GiB with Adam's two moments."]
    (RESULTS / "scale_plan.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
