"""Training-curve plots (PNG), drawn on Figure objects (no global pyplot state)."""

from __future__ import annotations

import os
from typing import Sequence


def plot_curves(path: str | os.PathLike, epochs: Sequence[float], series: dict[str, Sequence[float]],
                title: str, ylabel: str, xlabel: str = "epoch", log_x: bool = False) -> None:
    """Draw one line per ``series`` entry against ``epochs`` (any x: epochs, seconds) and write a PNG atomically.

    ``series`` values may hold NaN for epochs without a value (e.g. no evaluation); those points are skipped.
    """
    import math

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fuserec.io import atomic_path

    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, values in series.items():
        pts = [(e, v) for e, v in zip(epochs, values) if v is not None and not math.isnan(v)]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o" if len(pts) < 30 else None, markersize=3, label=name)
    ax.set_xlabel(xlabel)
    if log_x:
        ax.set_xscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
