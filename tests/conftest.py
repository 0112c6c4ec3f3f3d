"""Shared fixtures. Real-data helpers live in ``helpers.py`` (``from helpers import real_data``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread for the test (tiny ops only lose from threading on 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
