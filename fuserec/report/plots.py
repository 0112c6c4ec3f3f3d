"""Report plots (PNG), drawn on ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state).

* :func:`bar_chart`: metrics per variant, mean with sample-std error bars;
* :func:`sweep_plot`: a metric against a swept parameter (e.g. reduced dimension 16/32/64/128);
* :func:`pca_2d` / :func:`projection_scatter`: 2-D PCA projections of vector sets, coloured by a
  label, side by side (e.g. reduced item vectors without and with the contrastive terms).

Every writer saves atomically (temporary file + rename) and returns the path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from fuserec.report.metric_info import human_name, model_label
from fuserec.report.tables import Summary


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> Path:
    from fuserec.io import atomic_path

    path = Path(path)
    if not fig.get_layout_engine():
        fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def panel_curves(path: str | os.PathLike, epochs: Sequence[int],
                 panels: Mapping[str, Mapping[str, Sequence[float]]], title: str, ylabel: str) -> Path:
    """Side-by-side panels of per-epoch curves, ``panels[panel][series] -> values (E,)``.

    A series keeps one colour in every panel (tab20 cycle, so up to 20 distinguishable series) and
    the legend sits outside the axes, below them.
    """
    names = list(dict.fromkeys(name for series in panels.values() for name in series))
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    colours = colormaps["tab20"].colors if len(names) > 10 else colormaps["tab10"].colors
    colour = {name: colours[i % len(colours)] for i, name in enumerate(names)}
    fig = _figure(5.0 * max(len(panels), 1), 4.6)
    axes = [fig.add_subplot(1, max(len(panels), 1), k + 1) for k in range(max(len(panels), 1))]
    for ax, (panel, series) in zip(axes, panels.items()):
        for name, values in series.items():
            ax.plot(list(epochs)[:len(values)], values, marker="o", markersize=3, color=colour[name],
                    label=model_label(name))
        ax.set_title(panel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    handles = [axes[0].plot([], [], color=colour[name], label=model_label(name))[0] for name in names]
    fig.suptitle(title)
    if names:
        fig.legend(handles, [model_label(n) for n in names], loc="lower center", ncol=min(len(names), 5), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.04 * ((len(names) - 1) // 5), 1, 1))
    return _save(fig, path)


def bar_chart(path: str | os.PathLike, summary: Summary, metrics: Sequence[str] | None = None,
              title: str = "metrics per variant", ylabel: str = "value") -> Path:
    """Grouped bars: one group of bars per metric, one bar per variant (``summary.groups``).

    Bar height = mean over seeds; error bar = sample std (ddof=1), drawn only where n ≥ 2.
    """
    metrics = [m for m in (metrics or summary.metrics) if m in summary.metrics]
    if not metrics:
        raise ValueError("bar_chart needs at least one metric present in the summary")
    G, M = len(summary.groups), len(metrics)
    cols = [summary.metrics.index(m) for m in metrics]
    mean = summary.mean[:, cols]                       # (G, M)
    std = np.nan_to_num(summary.std[:, cols], nan=0.0)  # (G, M)
    fig = _figure(max(6.4, 1.0 + 0.35 * G * M), 4.2)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(G, 1)
    x = np.arange(M, dtype=np.float64)
    counts = summary.n[:, cols]                        # (G, M) seeds behind each bar
    for g, label in enumerate(summary.groups):
        # no error bar over a single value (n = 1): the std is undefined there, not zero
        err = np.where(counts[g] >= 2, std[g], np.nan)
        ax.bar(x + (g - (G - 1) / 2) * width, np.nan_to_num(mean[g], nan=0.0), width,
               yerr=err if np.isfinite(err).any() else None, capsize=3, label=model_label(label))
    ax.set_xticks(x)
    ax.set_xticklabels([human_name(m, with_arrow=True) for m in metrics], rotation=30 if M > 4 else 0, ha="right" if M > 4 else "center")
    ax.set_ylabel(ylabel)
    lo, hi = (int(summary.runs.min()), int(summary.runs.max())) if G else (0, 0)
    if hi <= 1:
        ax.set_title(f"{title} (n = 1: single values, no error bars)")
    else:
        ax.set_title(f"{title} (mean ± std, n = {lo}–{hi} seeds)" if lo != hi else f"{title} (mean ± std, n = {hi} seeds)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def sweep_plot(path: str | os.PathLike, x: Sequence[float],
               series: Mapping[str, tuple[Sequence[float], Sequence[float]]], xlabel: str,
               ylabel: str = "value", title: str | None = None, log_x: bool = False) -> Path:
    """One line per ``series`` entry ``name -> (means (P,), stds (P,))`` against ``x`` (P,), with a std band.

    ``log_x`` uses a base-2 log axis with the swept values as ticks (suits 16, 32, 64, 128).
    """
    xs = np.asarray(x, dtype=np.float64)
    order = np.argsort(xs)
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for name, (means, stds) in series.items():
        m = np.asarray(means, dtype=np.float64)[order]
        s = np.nan_to_num(np.asarray(stds, dtype=np.float64)[order], nan=0.0)
        if m.shape != xs.shape:
            raise ValueError(f"series {name!r} has {m.size} values for {xs.size} x values")
        ax.plot(xs[order], m, marker="o", label=human_name(name, with_arrow=True))
        ax.fill_between(xs[order], m - s, m + s, alpha=0.2)
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set_xticks(xs[order])
    ax.set_xticklabels([f"{v:g}" for v in xs[order]])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel} vs {xlabel} (mean ± std over seeds)")
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Project ``vectors`` (n, d) onto their first two principal components → (n, 2).

    Centred, then the top right-singular vectors of the SVD; each component's sign is fixed so
    that its largest-magnitude loading is positive (the projection is reproducible). With d = 1
    the second coordinate is 0.
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0:
        raise ValueError(f"pca_2d needs a non-empty (n, d) array, got shape {v.shape}")
    centred = v - v.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)   # vt: (min(n, d), d)
    comps = vt[:2]
    signs = np.sign(comps[np.arange(comps.shape[0]), np.abs(comps).argmax(axis=1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    out = np.zeros((v.shape[0], 2))
    out[:, :comps.shape[0]] = centred @ comps.T
    return out


def projection_scatter(path: str | os.PathLike, sets: Mapping[str, np.ndarray],
                       labels: np.ndarray | Mapping[str, np.ndarray] | None = None,
                       title: str = "2-D PCA projection", label_name: str = "label",
                       max_points: int = 5000, seed: int = 0) -> Path:
    """Side-by-side scatter plots of the PCA projection of each vector set, coloured by label.

    sets: panel title -> vectors (n_k, d_k) (each set is projected on its own components).
    labels: (n_k,) integer or string labels per point, one array shared by all sets or one per set;
        None draws every point in one colour.
    max_points: sets larger than this are subsampled (seeded) for legibility.
    """
    if not sets:
        raise ValueError("projection_scatter needs at least one vector set")
    fig = _figure(4.6 * len(sets), 4.4)
    rng = np.random.default_rng(seed)
    for k, (name, vectors) in enumerate(sets.items()):
        ax = fig.add_subplot(1, len(sets), k + 1)
        xy = pca_2d(vectors)
        lab = labels.get(name) if isinstance(labels, Mapping) else labels
        lab = None if lab is None else np.asarray(lab)
        if lab is not None and lab.shape[0] != xy.shape[0]:
            raise ValueError(f"set {name!r} has {xy.shape[0]} vectors but {lab.shape[0]} labels")
        keep = np.arange(xy.shape[0])
        if keep.size > max_points:
            keep = np.sort(rng.choice(keep, size=max_points, replace=False))
        if lab is None:
            ax.scatter(xy[keep, 0], xy[keep, 1], s=6, alpha=0.6)
        else:
            classes = list(dict.fromkeys(lab[keep].tolist()))
            for ci, cls in enumerate(classes[:20]):
                sel = keep[lab[keep] == cls]
                ax.scatter(xy[sel, 0], xy[sel, 1], s=6, alpha=0.6, label=str(cls), color=f"C{ci % 10}",
                           marker="o" if ci < 10 else "^")
            if len(classes) > 20:
                rest = keep[~np.isin(lab[keep], classes[:20])]
                ax.scatter(xy[rest, 0], xy[rest, 1], s=4, alpha=0.3, color="0.6", label="other")
            ax.legend(loc="best", fontsize=7, title=label_name, title_fontsize=7, markerscale=2)
        ax.set_title(name)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    return _save(fig, path)


def training_curves(path: str | os.PathLike, runs: Mapping[str, Sequence[Mapping[str, float]]],
                    panels: Sequence[tuple[str, str]], best_epochs: Mapping[str, int | None],
                    title: str = "training curves") -> Path:
    """One panel per ``(column of curves.csv, panel title)``, one line per run, best epoch starred.

    runs: legend name -> the run's curve rows (``epoch`` plus columns such as ``loss`` and
        ``valid_roc_auc``); a run without a column is left out of that panel.
    best_epochs: legend name -> the epoch whose checkpoint was kept (marked with a star and
        named in the legend).
    Each panel holds one metric only, so a lower-is-better metric (log-loss, the training loss) is
    never drawn on an axis shared with a higher-is-better one; the panel title says which is better.
    """
    from matplotlib.ticker import MaxNLocator

    from fuserec.report.metric_info import arrow

    names = list(runs)
    n = max(len(panels), 1)
    fig = _figure(4.4 * n, 4.2)
    axes = [fig.add_subplot(1, n, k + 1) for k in range(n)]
    colour = {name: f"C{i % 10}" for i, name in enumerate(names)}
    for ax, (column, heading) in zip(axes, panels):
        for name in names:
            pts = [(int(r["epoch"]), float(r[column])) for r in runs[name]
                   if column in r and r[column] is not None and np.isfinite(float(r[column]))]
            if not pts:
                continue
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o", markersize=3, color=colour[name])
            best = best_epochs.get(name)
            if best is not None and int(best) in xs:
                k = xs.index(int(best))
                ax.plot([xs[k]], [ys[k]], marker="*", markersize=13, color=colour[name],
                        markeredgecolor="black", linestyle="none")
        mark = arrow(column)
        ax.set_title(f"{heading} ({'higher' if mark == '↑' else 'lower'} is better)" if mark else heading,
                     fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour[name], marker="o", markersize=3,
                      label=f"{name} (best epoch {best_epochs.get(name)})" if best_epochs.get(name) is not None
                      else name) for name in names]
    handles.append(Line2D([], [], color="0.3", marker="*", markersize=11, markeredgecolor="black",
                          linestyle="none", label="best epoch (kept checkpoint)"))
    fig.suptitle(title)
    ncol = min(len(handles), 3)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    rows = -(-len(handles) // ncol)
    fig.tight_layout(rect=(0, 0.05 + 0.05 * rows, 1, 0.95))
    return _save(fig, path)


def swing_distribution(path: str | os.PathLike, results: Mapping[str, object], title: str = "SWING scores") -> Path:
    """Histograms of the kept SWING scores (log10) and of the neighbours per node, per side.

    results: panel name (e.g. "item-item") -> a :class:`fuserec.graph.swing.SwingResult`.
    """
    n = max(len(results), 1)
    fig = _figure(4.6 * n, 6.4)
    for k, (name, result) in enumerate(results.items()):
        scores = np.asarray(result.scores, dtype=np.float64)
        scores = scores[scores > 0]
        ax = fig.add_subplot(2, n, k + 1)
        if scores.size:
            ax.hist(np.log10(scores), bins=40, color="C0", alpha=0.85)
            ax.axvline(np.log10(np.median(scores)), color="C3", linestyle="--", label=f"median {np.median(scores):.3g}")
            ax.legend(fontsize=8)
        ax.set_title(f"{name}: {scores.size:,} kept scores", fontsize=10)
        ax.set_xlabel("log10 SWING score")
        ax.set_ylabel("pairs")
        ax.grid(True, alpha=0.3)
        degrees = np.asarray(result.degrees)
        ax2 = fig.add_subplot(2, n, n + k + 1)
        ax2.hist(degrees, bins=min(40, max(int(degrees.max()) + 1, 1)) if degrees.size else 10, color="C2", alpha=0.85)
        covered = float((degrees > 0).mean()) if degrees.size else 0.0
        ax2.set_title(f"{name}: neighbours per node ({covered:.0%} have any)", fontsize=10)
        ax2.set_xlabel("kept neighbours")
        ax2.set_ylabel("nodes")
        ax2.grid(True, alpha=0.3)
    fig.suptitle(title)
    return _save(fig, path)
