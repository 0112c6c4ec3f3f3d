"""Seeds derived from (seed, keys...) and scoped random-number state.

Every epoch's randomness comes from ``derive_seed(seed, epoch)``, so a run resumed at an epoch
boundary draws exactly what an uninterrupted run would have drawn. :func:`rng_scope` seeds the
torch and Python generators inside a ``with`` block and restores the caller's state afterwards,
so the library leaves no global random state changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from typing import Iterator

import numpy as np
import torch


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 63-bit seed that depends on ``seed`` and every key (stable across processes and versions)."""
    text = ":".join(str(x) for x in (seed, *keys))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") & ((1 << 63) - 1)


def numpy_generator(seed: int, *keys: int | str) -> np.random.Generator:
    """A fresh ``np.random.Generator`` for (seed, keys...)."""
    return np.random.default_rng(derive_seed(seed, *keys))


def seed_torch_and_python(seed: int) -> None:
    """Seed torch (CPU and CUDA) and Python's ``random``; call only inside :func:`rng_scope`."""
    torch.manual_seed(seed)
    random.seed(seed)


@contextlib.contextmanager
def rng_scope(seed: int | None = None, cuda: bool = False) -> Iterator[None]:
    """Run a block with its own torch/Python random state (seeded if ``seed`` is given)."""
    devices = [torch.cuda.current_device()] if cuda and torch.cuda.is_available() else []
    py_state = random.getstate()
    try:
        with torch.random.fork_rng(devices=devices):
            if seed is not None:
                seed_torch_and_python(seed)
            yield
    finally:
        random.setstate(py_state)


def capture_rng_state(cuda: bool = False) -> dict:
    """Torch (CPU, CUDA) and Python random states as tensors and plain containers."""
    state = {"torch": torch.get_rng_state(), "python": _plain(random.getstate())}
    if cuda and torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_python_state(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _python_state(value):
    version, internal, gauss = value
    return (version, tuple(internal), gauss)
