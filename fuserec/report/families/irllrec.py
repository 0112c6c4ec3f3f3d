"""The ``irllrec`` ablation family (spec: irllrec.md, "Results to reproduce").

Variants, all with the spec's training defaults (batch 4096, validate every 3 epochs on
recall@20, patience 5; Adam lr 1e-3, d 32, L 3, K 128 are the models' own defaults), and every
graph variant with ``model.aggregation: sum``, the RLMRec / IRLLRec reference implementation's
layer aggregation and the text-aligned models' default, so that ``lightgcn`` is the same backbone
as theirs. (With ``mean`` the embeddings are 1/(L+1) as large, and the cosine InfoNCE terms then
set Adam's steps: see :mod:`fuserec.models.rlmrec_con`.)

* ``mf`` (reference, BPR-MF) and ``lightgcn`` (the backbone alone, exactly the text models'
  backbone): always offered;
* ``rlmrec_con``: LightGCN + L_kd with profiles from ``text:template``;
* ``irllrec``: the full model (``text_mode: batch``; profiles and intents from ``text:template``);
* ``irllrec-intent_tower`` / ``-pair`` / ``-trans`` / ``-itm`` / ``-kd``: the full model without
  one component (``use_intent_tower`` / ``use_pair`` / ``use_trans`` / ``use_itm`` / ``use_kd``
  set to false; without the tower, r is replaced by e);
* ``irllrec-simgcl``: the full model on the SimGCL backbone.

The text variants need something to write profiles and intents from. A dataset with no item
text, no reviews and no item side fields (the ``irllrec:`` Amazon-book / Yelp splits are bare
interaction matrices) gets only ``mf`` and ``lightgcn``, and the skip is logged.

Training keys the user sets through ``--set`` / ``--config`` (e.g. ``train.eval_every``) win over
these defaults; ``--epochs`` caps the epochs as for every family.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from fuserec.data.dataset import Dataset
from fuserec.report.ablation import Variant, register_ablation

log = logging.getLogger("fuserec.report")

TEXT_SOURCE = "text:template"

#: the spec's training defaults (irllrec.md, "Defaults")
TRAIN_DEFAULTS: dict[str, Any] = {
    "train.batch_size": 4096,
    "train.eval_every": 3,
    "train.patience": 5,
    "train.monitor": "recall@20",
}

#: layer aggregation of every graph variant, lightgcn included (the text models' default; see the module docstring);
#: and the text models' regularisation, no edge dropout, so that ``lightgcn`` stays their backbone (the
#: ``lightgcn`` model's own defaults are the reference code's recipe: edge dropout, L2 on all parameters)
GRAPH_DEFAULTS: dict[str, Any] = {"model.aggregation": "sum", "model.keep_rate": 1.0, "model.reg": 1e-7,
                                  "model.reg_scope": "batch"}

#: ablation switch of each IRLLRec component (variant suffix → config key)
COMPONENTS = {
    "intent_tower": "model.use_intent_tower",
    "pair": "model.use_pair",
    "trans": "model.use_trans",
    "itm": "model.use_itm",
    "kd": "model.use_kd",
}


def has_text_side(dataset: Dataset) -> bool:
    """Whether ``dataset`` has anything to write profiles / intents from: item text, reviews or
    item side fields."""
    item_text = dataset.item_text is not None and bool(dataset.item_text.astype(str).str.strip().ne("").any())
    return item_text or dataset.has_reviews or bool(dataset.fields_of("item"))


def _user_keys(args: argparse.Namespace | None) -> set[str]:
    """Dotted keys the user set for every variant (``--set`` and the ``--config`` file)."""
    keys: set[str] = set()
    if args is None:
        return keys
    for item in getattr(args, "overrides", None) or []:
        keys.add(str(item).split("=", 1)[0].strip())
    config = getattr(args, "config", None)
    if config:
        from fuserec.config import load_yaml

        raw = load_yaml(config) or {}
        for section in ("model", "train", "eval"):
            for key in (raw.get(section) or {}):
                keys.add(f"{section}.{key}")
    return keys


def _load(source: str | None, args: argparse.Namespace | None) -> Dataset:
    from fuserec.data.sources import load_dataset

    if source is None and args is not None and getattr(args, "config", None):
        from fuserec.config import load_yaml

        source = (load_yaml(args.config) or {}).get("dataset")
    return load_dataset(source)


def irllrec_variants(source: str | None, args: argparse.Namespace | None = None, *,
                     dataset: Dataset | None = None) -> list[Variant]:
    """Every arm of the IRLLRec ablation for the dataset at ``source`` (see the module docstring).

    ``dataset``: the loaded dataset, when the caller has it (otherwise ``source`` is loaded to
    decide whether the text variants apply).
    """
    if dataset is None:
        dataset = _load(source, args)
    mine = _user_keys(args)
    train = {k: v for k, v in TRAIN_DEFAULTS.items() if k not in mine}
    graph = {**train, **{k: v for k, v in GRAPH_DEFAULTS.items() if k not in mine}}
    profile = {**graph, "model.profile_source": TEXT_SOURCE}
    text = {**profile, "model.intent_source": TEXT_SOURCE, "model.text_mode": "batch"}
    variants = [Variant("mf", dict(train), "mf"), Variant("lightgcn", dict(graph), "lightgcn")]
    if not has_text_side(dataset):
        log.warning("irllrec ablation: dataset %s has no item text, reviews or item side fields; "
                    "the text variants (rlmrec_con, irllrec and its ablations) are skipped, "
                    "only mf and lightgcn are trained", dataset.name)
        return variants
    variants.append(Variant("rlmrec_con", dict(profile), "rlmrec_con"))
    variants.append(Variant("irllrec", dict(text), "irllrec"))
    for suffix, key in COMPONENTS.items():
        variants.append(Variant(f"irllrec-{suffix}", {**text, key: False}, "irllrec"))
    variants.append(Variant("irllrec-simgcl", {**text, "model.backbone": "simgcl"}, "irllrec"))
    return variants


register_ablation("irllrec", irllrec_variants,
                  description="MF / LightGCN vs RLMRec-Con vs IRLLRec, each IRLLRec component removed, "
                              "SimGCL backbone (text variants only on datasets with text)")
