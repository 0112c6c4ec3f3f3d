"""Inputs prepared once, outside the models: (dataset, model config) → :class:`PreparedInputs`.

A model class declares what it scores with in its ``needs`` class attribute; this stage computes
exactly that (:mod:`fuserec.prepare.stages`) and the model's constructor receives the arrays:

=================  ==========================================================================
``interactions``   the binary training matrix (graph propagation, popularity, intent edges)
``profile_text``   ``text/profile`` from ``cfg.profile_source`` (when ``cfg.use_kd``)
``intent_text``    ``text/intent`` from ``cfg.intent_source`` (when ``cfg.uses_intent_text``)
``features``       the DLRM feature tables and schema (``cfg.features``)
``semantic``       the vectors of ``cfg.semantic`` fields
``pca``            a PCA per semantic field to ``cfg.dim``, fitted on training entities
``swing``          SWING neighbours of users (``cfg.w_uu > 0``) and items (``cfg.w_ii > 0``)
``pair_text``      the review vector of every (user, item) pair (the leakage probe ``dlrrec_leaky``)
=================  ==========================================================================

Text controls (``cfg.text_control``: ``none``, ``shuffled``, ``random``;
:func:`fuserec.text.controls.apply_text_control`) are applied here: swapping the text is a
change of input, never of model.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

from fuserec.prepare.inputs import PreparedInputs

if TYPE_CHECKING:  # the stages pull in pandas and the text pipeline: imported when preparing, not to load
    from fuserec.data.dataset import Dataset
    from fuserec.prepare.text import TextEmbeddings

NEEDS = ("interactions", "profile_text", "intent_text", "features", "semantic", "pca", "swing", "pair_text")


def prepare_inputs(dataset: "Dataset", model_cls: type, cfg: Any, *,
                   text: "Mapping[str, TextEmbeddings] | None" = None,
                   semantic: Mapping[str, Any] | None = None,
                   cache_dir: str | os.PathLike | None = None, cache: bool = True) -> PreparedInputs:
    """The :class:`PreparedInputs` that ``model_cls`` (its ``needs``) under ``cfg`` scores with.

    Args:
        text: precomputed text vectors by kind (``profile``, ``intent``), used instead of the
            configured source.
        semantic: precomputed semantic vectors by field name, ``(n_side, D)``.
        cache_dir / cache: where the content-keyed cache of SWING and PCA lives (default: the
            text cache's folder); ``cache=False`` computes everything afresh.
    """
    from fuserec.prepare.cache import ArtifactCache
    from fuserec.prepare.stages import (feature_arrays, interaction_arrays, pair_text_arrays, pca_arrays,
                                        semantic_arrays, swing_arrays, text_arrays)

    needs = tuple(getattr(model_cls, "needs", ()))
    unknown = [n for n in needs if n not in NEEDS]
    if unknown:
        raise TypeError(f"{model_cls.__name__}.needs names unknown inputs {unknown}; known: {', '.join(NEEDS)}")
    store = ArtifactCache(cache_dir) if cache else None
    inputs = PreparedInputs(dataset.n_users, dataset.n_items, meta={"dataset": dataset.name})
    given_text = dict(text or {})
    control = getattr(cfg, "text_control", "none")
    if "interactions" in needs:
        inputs.update(interaction_arrays(dataset))
    if "profile_text" in needs and getattr(cfg, "use_kd", True):
        inputs.update(text_arrays(dataset, "profile", cfg.profile_source, cfg.text_seed, control,
                                  given_text.get("profile"), "model.profile_source"))
    if "intent_text" in needs and getattr(cfg, "uses_intent_text", True):
        inputs.update(text_arrays(dataset, "intent", cfg.intent_source, cfg.text_seed, control,
                                  given_text.get("intent"), "model.intent_source"))
    if "features" in needs:
        arrays, meta = feature_arrays(dataset, cfg.features)
        inputs.update(arrays, meta)
    fields = list(getattr(cfg, "semantic", [])) if "semantic" in needs else []
    if fields:
        inputs.update(semantic_arrays(dataset, fields, semantic, getattr(cfg, "seed", 0), control))
    if "pca" in needs:
        for spec in fields:
            rows = inputs.array(f"features/train/{'users' if spec.side == 'user' else 'items'}")
            inputs.update(pca_arrays(spec.name, inputs.array(f"semantic/{spec.name}"), rows, cfg.dim,
                                     getattr(cfg, "pca_whiten", False), store, spec.path))
    if "swing" in needs:
        threshold = inputs.meta.get("threshold")
        for side, weight in (("user", cfg.w_uu), ("item", cfg.w_ii)):
            if weight > 0:
                inputs.update(swing_arrays(dataset, cfg.swing_params(side), threshold, store))
    if "pair_text" in needs:
        inputs.update(pair_text_arrays(dataset))
    return inputs


__all__ = ["NEEDS", "PreparedInputs", "TextEmbeddings", "prepare_inputs"]


def __getattr__(name: str):
    if name == "TextEmbeddings":
        from fuserec.prepare.text import TextEmbeddings

        return TextEmbeddings
    raise AttributeError(f"module 'fuserec.prepare' has no attribute {name!r}")
