"""The run directory: where a training run keeps everything it produces.

Layout::

    DIR/config.yaml            resolved configuration (dataset, model, train, eval sections)
    DIR/metrics.json           every evaluation (per split, per epoch), best, test at best
    DIR/curves.csv             per epoch: loss terms, validation metrics, lr, seconds
    DIR/checkpoints/last.pt    state at the end of the latest epoch (resume from here)
    DIR/checkpoints/best.pt    model at the best validation evaluation
    DIR/train.log              the log of the run (appended on resume)
    DIR/plots/loss.png, DIR/plots/metrics.png

Every file is written atomically (fuserec.io).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
from pathlib import Path
from typing import Any, Iterator

from fuserec.config import load_yaml, save_yaml
from fuserec.errors import DataError
from fuserec.io import atomic_write_json, atomic_write_text


class RunDir:
    """Paths and writers of one run's folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def curves_path(self) -> Path:
        return self.path / "curves.csv"

    @property
    def log_path(self) -> Path:
        return self.path / "train.log"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    def create(self) -> "RunDir":
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        return self

    # ------------------------------------------------------------------ writers
    def write_config(self, config: dict) -> None:
        save_yaml(config, self.config_path)

    def read_config(self) -> dict:
        if not self.config_path.is_file():
            raise DataError("not a run directory (no config.yaml)", self.path)
        return load_yaml(self.config_path)

    def write_metrics(self, metrics: dict) -> None:
        atomic_write_json(self.metrics_path, metrics)

    def write_curves(self, rows: list[dict[str, Any]]) -> None:
        """Write ``rows`` (one dict per epoch) as CSV; the columns are the union of the rows' keys."""
        columns: list[str] = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})
        atomic_write_text(self.curves_path, buf.getvalue())

    @contextlib.contextmanager
    def logging_to_file(self, logger_name: str = "fuserec") -> Iterator[None]:
        """Append the records of ``logger_name`` to ``train.log`` while the block runs."""
        self.path.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.log_path, mode="a", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        logger = logging.getLogger(logger_name)
        old_level = logger.level
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            handler.close()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value
