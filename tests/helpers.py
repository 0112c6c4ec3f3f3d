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
