"""Evaluators: full-ranking top-K metrics and pointwise classification metrics.

Submodules are imported on use (``fuserec.eval.ranking`` needs torch, ``classification`` only
numpy/scipy); the names below are re-exported lazily.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "evaluate_ranking": "fuserec.eval.ranking",
    "evaluate_ranking_per_user": "fuserec.eval.ranking",
    "evaluate_embeddings": "fuserec.eval.ranking",
    "dot_product_scorer": "fuserec.eval.ranking",
    "PerUserRanking": "fuserec.eval.ranking",
    "classification_metrics": "fuserec.eval.classification",
    "classification_report": "fuserec.eval.classification",
    "choose_threshold": "fuserec.eval.classification",
    "threshold_metrics": "fuserec.eval.classification",
    "gauc": "fuserec.eval.classification",
    "per_user_auc": "fuserec.eval.classification",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fuserec.eval' has no attribute {name!r}")
