"""Reading finished run directories into flat rows, and writing the summary outputs of a set of runs.

A *row* is one run: ``variant``, ``model``, ``seed``, ``best_epoch``, ``epochs_run``,
``stopped_early``, ``run_dir``, then ``test_<metric>`` (test split at the best validation
checkpoint) and ``valid_<metric>`` (validation at that checkpoint) for every metric.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

from fuserec.config import load_yaml
from fuserec.errors import DataError
from fuserec.report.markdown import Section, write_markdown_report
from fuserec.report.plots import bar_chart, sweep_plot
from fuserec.report.tables import Summary, aggregate, summary_markdown, write_csv, write_summary_csv

#: metrics shown in Markdown tables and plots when present (all metrics go to the CSV files)
HEADLINE_METRICS = ("recall@20", "ndcg@20", "recall@10", "ndcg@10", "roc_auc", "pr_auc", "accuracy", "f1",
                    "fpr", "fnr", "log_loss", "gauc")
#: count-like entries of metric dicts that are not aggregated
COUNT_KEYS = frozenset({"n_users", "tn", "fp", "fn", "tp", "n"})
#: file a run directory may hold naming its ablation variant (written by run_ablation)
VARIANT_FILE = "ablation.json"


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's ``metrics.json``, or None when it is missing, unreadable or has no test results yet."""
    path = Path(run_dir) / "metrics.json"
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("test"), dict) or not metrics["test"]:
        return None
    return metrics


def is_complete(run_dir: str | os.PathLike) -> bool:
    """True when the run finished: its ``metrics.json`` holds test metrics."""
    return read_metrics(run_dir) is not None


def read_variant_info(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's ``ablation.json`` (variant, model, seed, seconds, threads), or {} when absent."""
    try:
        info = json.loads((Path(run_dir) / VARIANT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def read_finished(run_dir: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
    """(metrics.json, config.yaml, ablation.json, model name) of a finished run (DataError naming
    the folder when it is not finished)."""
    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir)
    if metrics is None:
        raise DataError("run has no finished metrics.json (no test results)", run_dir / "metrics.json")
    config = load_yaml(run_dir / "config.yaml") if (run_dir / "config.yaml").is_file() else {}
    info = read_variant_info(run_dir)
    model = str((config.get("model") or {}).get("name") or info.get("model") or "?")
    return metrics, config, info, model


def run_row(run_dir: str | os.PathLike, base: Path | None = None) -> dict[str, Any]:
    """Flat row of a finished run (DataError naming the folder when it is not finished)."""
    run_dir = Path(run_dir)
    metrics, config, info, model = read_finished(run_dir)
    best = metrics.get("best") or {}
    row: dict[str, Any] = {
        "variant": info.get("variant") or model,
        "model": model,
        "seed": (config.get("train") or {}).get("seed", info.get("seed")),
        "best_epoch": best.get("epoch"),
        "epochs_run": metrics.get("epochs_run"),
        "stopped_early": metrics.get("stopped_early"),
        "seconds": info.get("seconds", math.nan),
        "threads": info.get("threads"),
        "run_dir": _relative(run_dir, base),
    }
    for split, values in (("test", metrics["test"]), ("valid", best.get("valid") or {})):
        for key, value in values.items():
            if key not in COUNT_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
                row[f"{split}_{key}"] = float(value)
    return row


def find_runs(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Run directories under ``paths``: each path is a run (holds ``config.yaml``) or is searched
    recursively for folders holding ``metrics.json``. Sorted, without duplicates."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise DataError("no such run directory", p)
        if (p / "config.yaml").is_file() or (p / "metrics.json").is_file():
            found.append(p)
        else:
            found += sorted(m.parent for m in p.rglob("metrics.json"))
    return list(dict.fromkeys(found))


def headline(metrics: Sequence[str], prefix: str, limit: int | None = None) -> list[str]:
    """The prefixed headline metrics present in ``metrics`` (all prefixed ones when none is)."""
    chosen = [prefix + m for m in HEADLINE_METRICS if prefix + m in metrics]
    if not chosen:
        chosen = [m for m in metrics if m.startswith(prefix)]
    return chosen[:limit] if limit else chosen


def write_summary_outputs(out_dir: str | os.PathLike, rows: list[dict[str, Any]], title: str, intro: str = "",
                          sweeps: dict[str, list[tuple[str, float]]] | None = None,
                          extra_sections: Sequence[Section] = ()) -> tuple[Summary, list[Path]]:
    """Write ``results.csv`` (rows), ``summary.csv`` (long: variant, metric, mean, std, n),
    ``summary.md`` and ``plots/`` into ``out_dir``; returns the summary and the plot paths.

    sweeps: parameter name -> [(variant, value), ...]: one sweep plot per parameter of the
    headline test metrics' mean ± std against the value.
    """
    out_dir = Path(out_dir)
    write_csv(out_dir / "results.csv", rows)
    ok_rows = [r for r in rows if not r.get("error")]
    summary = aggregate(ok_rows, group="variant")
    write_summary_csv(out_dir / "summary.csv", summary)
    plots: list[Path] = []
    test_cols = headline(summary.metrics, "test_")
    if summary.groups and test_cols:
        plots.append(bar_chart(out_dir / "plots" / "test_metrics.png", summary, test_cols[:4],
                               title="test metrics per variant"))
    for param, points in (sweeps or {}).items():
        points = [(v, x) for v, x in points if v in summary.groups]
        if len(points) < 2 or not test_cols:
            continue
        series = {}
        for metric in test_cols[:2]:
            cells = [summary.cell(v, metric) for v, _ in points]
            series[metric] = ([c[0] for c in cells], [c[1] for c in cells])
        xs = [x for _, x in points]
        log_x = min(xs) > 0 and max(xs) / min(xs) >= 8
        plots.append(sweep_plot(out_dir / "plots" / f"sweep_{_safe(param)}.png", xs, series, xlabel=param,
                                ylabel="test metric", log_x=log_x))
    valid_cols = headline(summary.metrics, "valid_", 4)
    note = "Mean ± sample standard deviation (ddof = 1) over seeds; n = number of runs."
    sections = [
        Section("Test metrics at the best validation checkpoint",
                note + "\n\n" + (summary_markdown(summary, test_cols, strip_prefix="test_") if test_cols else "(no finished runs)")),
        Section("Validation metrics at the best checkpoint",
                summary_markdown(summary, valid_cols, strip_prefix="valid_") if valid_cols else "(none)"),
    ]
    failed = [r for r in rows if r.get("error")]
    if failed:
        sections.append(Section("Failed runs", "\n".join(f"- {r['run_dir']}: {r['error']}" for r in failed)))
    if plots:
        sections.append(Section("Plots", images=plots))
    sections += list(extra_sections)
    sections.append(Section("Files", "- `results.csv`: one row per run (all test_ and valid_ metrics)\n"
                                     "- `summary.csv`: variant, metric, mean, std (ddof = 1), n"))
    intro_section = [Section("Setup", intro)] if intro else []
    write_markdown_report(out_dir / "summary.md", title, intro_section + sections)
    return summary, plots


def label_groups(rows: list[dict[str, Any]], configs: list[dict[str, Any]]) -> None:
    """Give runs of the same label but different configs (seed aside) distinct ``variant`` labels.

    ``configs[k]`` is the config.yaml mapping of ``rows[k]``; labels gain the differing keys,
    e.g. ``mf (model.dim=16)``. Edits ``rows`` in place.
    """
    flat = [_flatten(c) for c in configs]
    for f in flat:
        for key in ("train.seed", "train.progress", "train.device"):
            f.pop(key, None)
    by_label: dict[str, list[int]] = {}
    for k, row in enumerate(rows):
        by_label.setdefault(str(row["variant"]), []).append(k)
    for label, idx in by_label.items():
        prints = {k: json.dumps(flat[k], sort_keys=True, default=str) for k in idx}
        if len(set(prints.values())) < 2:
            continue
        keys = sorted({key for k in idx for key in flat[k]})
        differing = [key for key in keys if len({json.dumps(flat[k].get(key), default=str) for k in idx}) > 1]
        for k in idx:
            rows[k]["variant"] = f"{label} (" + ", ".join(f"{key}={flat[k].get(key)}" for key in differing) + ")"


def _flatten(mapping: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(mapping, dict):
        for key, value in mapping.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    else:
        out[prefix[:-1]] = mapping
    return out


def _relative(path: Path, base: Path | None) -> str:
    if base is None:
        return str(path)
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)

