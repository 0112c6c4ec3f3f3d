"""Text controls: the same vectors with their link to the entities broken.

A text model that beats its baseline only because of text must lose that edge when each entity
gets another entity's vector (``shuffled``: same marginal distribution, no information about *this*
entity) or a random vector (``random``: Gaussian with the input's per-dimension mean and std).
"""

from __future__ import annotations

import numpy as np

from fuserec.errors import ConfigError

CONTROLS = ("none", "shuffled", "random")


def apply_text_control(vectors: np.ndarray, control: str, seed: int) -> np.ndarray:
    """The (n, d) ``vectors`` under ``control``.

    * ``"none"``: the vectors as they are;
    * ``"shuffled"``: ``vectors[np.random.default_rng(seed).permutation(len(vectors))]`` (rows
      permuted across entities);
    * ``"random"``: Gaussian draws from ``np.random.default_rng(seed)`` with the same
      per-dimension mean and std as the input; rows renormalised to unit norm when every input row
      norm is within 1e-3 of 1 (e.g. sentence-transformer vectors).
    """
    if control not in CONTROLS:
        raise ConfigError(f"unknown text control {control!r}; allowed: {', '.join(CONTROLS)}", "text.control")
    vectors = np.asarray(vectors)
    if control == "none":
        return vectors
    rng = np.random.default_rng(seed)
    if control == "shuffled":
        return vectors[rng.permutation(len(vectors))]
    mean = vectors.mean(axis=0)
    std = vectors.std(axis=0)
    out = rng.normal(size=vectors.shape) * std + mean
    norms = np.linalg.norm(vectors, axis=1)
    if len(vectors) and np.all(np.abs(norms - 1.0) <= 1e-3):
        out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(vectors.dtype, copy=False)
