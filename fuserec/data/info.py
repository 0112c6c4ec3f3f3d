"""Summary statistics of a dataset (``fuserec data info``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fuserec.data.dataset import SPLIT_NAMES, Dataset


def summarize(dataset: Dataset) -> dict[str, Any]:
    """Users, items, interactions, density, split sizes, rating histogram, degree percentiles."""
    frame = dataset.interactions
    n_u, n_i, n = dataset.n_users, dataset.n_items, dataset.n_interactions
    splits = {SPLIT_NAMES.get(int(code), "unassigned"): int(count)
              for code, count in zip(*np.unique(frame["split"].to_numpy(), return_counts=True))}
    out: dict[str, Any] = {
        "name": dataset.name,
        "format": dataset.meta.get("format"),
        "users": n_u,
        "items": n_i,
        "interactions": n,
        "density": n / (n_u * n_i) if n_u and n_i else 0.0,
        "splits": splits,
    }
    if dataset.has_ratings:
        values, counts = np.unique(frame["rating"].dropna().to_numpy(), return_counts=True)
        if len(values) <= 20:
            out["ratings"] = {_fmt_num(v): int(c) for v, c in zip(values, counts)}
        else:
            hist, edges = np.histogram(frame["rating"].dropna().to_numpy(), bins=10)
            out["ratings"] = {f"[{edges[k]:.3g},{edges[k + 1]:.3g})": int(hist[k]) for k in range(10)}
    pct = [0, 25, 50, 75, 90, 99, 100]
    user_deg = np.bincount(frame["user"].to_numpy(), minlength=n_u)
    item_deg = np.bincount(frame["item"].to_numpy(), minlength=n_i)
    out["user_degree_percentiles"] = {f"p{p}": float(np.percentile(user_deg, p)) for p in pct}
    out["item_degree_percentiles"] = {f"p{p}": float(np.percentile(item_deg, p)) for p in pct}
    if dataset.has_timestamps:
        ts = frame["timestamp"].dropna().to_numpy()
        out["time_range"] = [float(ts.min()), float(ts.max())]
    out["side_fields"] = {f"{f.side}.{f.name}": f.kind for f in dataset.fields}
    out["text"] = {
        "item_text": dataset.item_text is not None and bool((dataset.item_text.str.len() > 0).any()),
        "user_text": dataset.user_text is not None and bool((dataset.user_text.str.len() > 0).any()),
        "reviews": dataset.has_reviews,
    }
    if dataset.ground_truth:
        out["ground_truth"] = {k: list(v.shape) for k, v in dataset.ground_truth.items()}
    if dataset.meta.get("label_threshold") is not None:
        out["label_threshold"] = dataset.meta["label_threshold"]
    if "load_seconds" in dataset.meta:
        out["load_seconds"] = round(float(dataset.meta["load_seconds"]), 4)
    if dataset.meta.get("warnings"):
        out["warnings"] = list(dataset.meta["warnings"])
    return out


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable multi-line rendering of :func:`summarize`'s result."""
    lines = [f"dataset       {summary['name']}  (format: {summary.get('format')})",
             f"users         {summary['users']:,}",
             f"items         {summary['items']:,}",
             f"interactions  {summary['interactions']:,}",
             f"density       {summary['density']:.6f}",
             "splits        " + ", ".join(f"{k} {v:,}" for k, v in summary["splits"].items())]
    if "ratings" in summary:
        lines.append("ratings       " + ", ".join(f"{k}: {v:,}" for k, v in summary["ratings"].items()))
    for side in ("user", "item"):
        p = summary[f"{side}_degree_percentiles"]
        lines.append(f"{side} degree   " + " ".join(f"{k}={v:g}" for k, v in p.items()))
    if summary.get("side_fields"):
        lines.append("side fields   " + ", ".join(f"{k} ({v})" for k, v in summary["side_fields"].items()))
    text = [k for k, v in summary.get("text", {}).items() if v]
    lines.append("text          " + (", ".join(text) if text else "none"))
    if "label_threshold" in summary:
        lines.append(f"label         rating >= {summary['label_threshold']:g} is positive")
    if "ground_truth" in summary:
        lines.append("ground truth  " + ", ".join(f"{k} {v}" for k, v in summary["ground_truth"].items()))
    if "load_seconds" in summary:
        lines.append(f"load time     {summary['load_seconds']:.3f} s")
    for w in summary.get("warnings", []):
        lines.append(f"warning       {w}")
    return "\n".join(lines)


def _fmt_num(v: float) -> str:
    return f"{v:g}"
