"""Helpers importable from tests (``from helpers import real_data``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA_DIR = Path(os.environ.get("FUSEREC_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def real_data(*parts: str) -> Path:
    """Path of a real dataset under ``$FUSEREC_DATA``; skips the test if it is absent."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real dataset not found at {path} (set FUSEREC_DATA to the shared data folder)")
    return path


def make_model(cls, dataset, cfg=None, **given):
    """``cls`` built on the inputs prepared for it from ``dataset`` (``given``: precomputed ``text``
    or ``semantic`` vectors), as :func:`fuserec.train.runner.build_model` does (without its seed scope)."""
    from fuserec.prepare import prepare_inputs

    cfg = cfg if cfg is not None else cls.Config()
    return cls(prepare_inputs(dataset, cls, cfg, cache=False, **given), cfg)
