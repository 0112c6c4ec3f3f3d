"""Text controls: the same pipeline with the text's information removed, to measure what text adds.

:func:`apply_text_control` transforms an ``(n, D)`` matrix of per-entity text vectors:

* ``none``: the vectors unchanged;
* ``shuffled``: rows permuted across entities with ``np.random.default_rng(seed).permutation``
  (the same vectors, attached to the wrong entities: marginal statistics kept, pairing broken);
* ``random``: Gaussian vectors with the input's per-dimension mean and standard deviation, drawn
  from ``np.random.default_rng(seed)``; when every input row is unit-norm (norms within 1e-3 of
  1), the rows are renormalised to unit norm.
"""

from __future__ import annotations

import numpy as np

from fuserec.errors import ConfigError

TEXT_CONTROLS = ("none", "shuffled", "random")


def apply_text_control(vectors: np.ndarray, control: str, seed: int) -> np.ndarray:
    """``vectors`` (n, D) under ``control`` (``none``, ``shuffled`` or ``random``); see the module doc."""
    if control not in TEXT_CONTROLS:
        raise ConfigError(f"unknown text control {control!r}; allowed: {', '.join(TEXT_CONTROLS)}",
                          "text_control")
    vectors = np.asarray(vectors)
    if control == "none":
        return vectors
    rng = np.random.default_rng(seed)
    if control == "shuffled":
        return vectors[rng.permutation(len(vectors))]
    mean = vectors.mean(axis=0)
    std = vectors.std(axis=0)
    out = rng.standard_normal(vectors.shape) * std + mean
    norms = np.linalg.norm(vectors, axis=1)
    if len(norms) and np.all(np.abs(norms - 1.0) <= 1e-3):
        out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(vectors.dtype, copy=False)
