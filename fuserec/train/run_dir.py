"""The run directory: where a training run keeps everything it produces.

Layout::

    DIR/config.yaml            resolved configuration (dataset, model, train, eval sections)
    DIR/metrics.json           every evaluation (per split, per epoch), best, test at best
    DIR/curves.csv             per epoch: loss terms, validation metrics, lr, seconds
    DIR/checkpoints/last.pt    state at the end of the latest epoch (resume from here)
    DIR/checkpoints/best.pt    model at the best validation evaluation
    DIR/train.log              the log of the run (appended on resume)
    DIR/plots/loss.png, DIR/plots/metrics.png
    DIR/.lock                  pid of the process writing the run (while it runs)
    DIR/failed.json            why the latest attempt failed (only after a failure)

Every file is written atomically (fuserec.io). One process at a time writes a run folder
(:meth:`RunDir.writing` holds :class:`fuserec.io.FolderLock`): a second writer gets a clean error
naming the first one's pid. A run that fails leaves nothing when it had created the folder and
written no checkpoint yet; otherwise the folder stays (it can be resumed) with ``failed.json``.
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

import shutil
import time

from fuserec.config import load_yaml, save_yaml
from fuserec.errors import ConfigError, DataError, one_line
from fuserec.io import FolderLock, atomic_write_json, atomic_write_text


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

    @property
    def failed_path(self) -> Path:
        return self.path / "failed.json"

    def create(self) -> "RunDir":
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        return self

    @contextlib.contextmanager
    def writing(self, resume: bool = False) -> Iterator["RunDir"]:
        """Hold the run folder's lock while the block writes it (creating the folder).

        Raises:
            FuserecError: another live process holds the lock (its pid is named), or, unless
                ``resume``, the folder already holds a run (``checkpoints/last.pt``).

        If the block raises, a folder this call created is removed when it holds no checkpoint;
        otherwise ``failed.json`` records the error (a later successful run removes it).
        """
        existed = self.path.exists()
        lock = FolderLock(self.path, "run folder").acquire()
        try:
            if not resume and self.last_checkpoint.is_file():
                raise ConfigError(f"{self.path} already holds a run; use --resume to continue it or another --out")
            with contextlib.suppress(FileNotFoundError):
                self.failed_path.unlink()
            self.create()
            yield self
        except BaseException as exc:
            if not existed and not self.last_checkpoint.is_file() and not self.best_checkpoint.is_file():
                shutil.rmtree(self.path, ignore_errors=True)
            elif self.path.is_dir():
                reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else one_line(str(exc)) or type(exc).__name__
                with contextlib.suppress(OSError):
                    atomic_write_json(self.failed_path, {"error": reason, "type": type(exc).__name__,
                                                         "pid": os.getpid(),
                                                         "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            raise
        finally:
            lock.release()

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
