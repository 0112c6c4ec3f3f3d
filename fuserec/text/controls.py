"""Text controls: the same model fed text vectors that carry no entity-specific knowledge.

A claim that text helps needs these beside it:

* ``"none"``: the vectors as they are;
* ``"shuffled"``: the same vectors permuted across entities (same distribution, wrong owner):
  ``vectors[np.random.default_rng(seed).permutation(len(vectors))]``;
* ``"random"``: Gaussian vectors with the same per-dimension mean and standard deviation, drawn
  from ``np.random.default_rng(seed)``; rows are rescaled to unit norm when every input row has
  unit norm (within 1e-3), as sentence-encoder outputs do.

The control is applied where text vectors enter a model (``model.text_control``).
"""

from __future__ import annotations

import numpy as np

from fuserec.errors import ConfigError

TEXT_CONTROLS = ("none", "shuffled", "random")


def apply_text_control(vectors: np.ndarray, control: str, seed: int) -> np.ndarray:
    """``vectors`` (n, D) under ``control`` (see the module docstring); returns (n, D) float32-or-input dtype."""
    if control not in TEXT_CONTROLS:
        raise ConfigError(f"unknown text control {control!r}; allowed: {', '.join(TEXT_CONTROLS)}",
                          "model.text_control")
    vectors = np.asarray(vectors)
    if control == "none":
        return vectors
    rng = np.random.default_rng(seed)
    if control == "shuffled":
        return vectors[rng.permutation(len(vectors))]
    mean = vectors.mean(axis=0)
    std = vectors.std(axis=0)
    out = (mean + std * rng.standard_normal(vectors.shape)).astype(vectors.dtype, copy=False)
    norms = np.linalg.norm(vectors, axis=1)
    if len(vectors) and np.all(np.abs(norms - 1.0) <= 1e-3):
        out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(vectors.dtype, copy=False)
