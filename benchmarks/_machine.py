"""What every benchmark records beside its numbers: machine, threads, load, peak memory."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The shared data folder: ``$FUSEREC_DATA``, else ``../shared/data`` next to the repository."""
    return Path(os.environ.get("FUSEREC_DATA", ROOT.parent / "shared" / "data"))


def shown_path(text: str | Path) -> str:
    """``text`` with every absolute path under the repository's parent written relative to the
    repository (``/x/shared/data/a`` → ``../shared/data/a``), for results files that travel."""
    parent = str(ROOT.parent)
    return str(text).replace(parent + os.sep, ".." + os.sep)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def max_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_note(*loads: float) -> str:
    """What the 1-minute load averages seen around a measurement say about it, in words: on this
    project's 2-core machines a load up to 1.5 is the benchmark itself (plus noise)."""
    if max(loads) <= 1.5:
        return "no other heavy job ran (1-minute load at most 1.5 on 2 cores)"
    return "other jobs were running; timings are upper bounds"


def machine_info(torch_threads: int | None = None) -> dict:
    info = {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    if torch_threads is not None:
        info["torch_threads"] = torch_threads
    return info


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    """Median wall time of ``runs`` calls of ``fn`` (and every time)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times
