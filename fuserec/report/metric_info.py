"""What a metric key means to a reader: its human name and which direction is better.

One place for the rule, used by every table and plot of :mod:`fuserec.report`:

* :func:`direction` → ``"max"`` (higher is better, ↑), ``"min"`` (lower is better, ↓) or ``None``
  (neither: a threshold, a count);
* :func:`human_name` → ``"FPR @ valid-chosen threshold"`` for ``tuned_fpr``, ``"Recall@20"`` for
  ``recall@20``, ``"log-loss"`` for ``log_loss``...;
* :func:`model_label` → the name a legend shows for a model or variant (``dlrrec-uu`` → "DLRREC
  (only user-user InfoNCE)").
"""

from __future__ import annotations

import re

#: metrics where higher is better (base names, without ``test_`` / ``valid_`` / ``tuned_`` / ``rank_``)
HIGHER = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "gauc", "ndcg", "hit", "mrr",
                    "probe_r2", "probe_pearson"})
#: metrics where lower is better
LOWER = frozenset({"fpr", "fnr", "log_loss", "loss", "bce", "bpr", "seconds"})

_BASE_NAMES = {
    "accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1", "fpr": "FPR",
    "fnr": "FNR", "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "log_loss": "log-loss", "gauc": "GAUC",
    "threshold": "threshold", "ndcg": "NDCG", "hit": "HitRate", "mrr": "MRR", "loss": "training loss",
}

#: legend names of the registered models and of the demo's / ablations' variants
MODEL_NAMES = {
    "base_rate": "base rate (constant prediction)",
    "pop": "popularity",
    "mf": "BPR-MF",
    "lightgcn": "LightGCN",
    "simgcl": "SimGCL",
    "rlmrec_con": "RLMRec-Con",
    "irllrec": "IRLLRec",
    "dlrm": "DLRM (ids only)",
    "dlrm_raw": "DLRM + raw text vectors",
    "two_step": "two-step (PCA, then DLRM)",
    "dlrrec": "DLRREC",
    "dlrrec-shuffled": "DLRREC, shuffled text (control)",
    "dlrrec-random": "DLRREC, random text (control)",
    "dlrrec-cotrain": "DLRREC, co-training only",
    "dlrrec-uu": "DLRREC, user-user InfoNCE only",
    "dlrrec-ii": "DLRREC, item-item InfoNCE only",
}


def _split(key: str) -> tuple[str, str, str]:
    """(split prefix, qualifier, base) of a metric key: ``test_tuned_fpr`` → ("test", "tuned", "fpr")."""
    split = ""
    for prefix in ("test_", "valid_"):
        if key.startswith(prefix):
            split, key = prefix[:-1], key[len(prefix):]
            break
    qualifier = ""
    for prefix in ("tuned_", "rank_"):
        if key.startswith(prefix):
            qualifier, key = prefix[:-1], key[len(prefix):]
            break
    return split, qualifier, key


def direction(key: str) -> str | None:
    """``"max"``, ``"min"`` or None for a metric key (prefixes and ``@K`` cut-offs allowed)."""
    _, qualifier, base = _split(key)
    base = base.split("@", 1)[0]
    if qualifier == "tuned" and base == "threshold":
        return None
    if base in HIGHER:
        return "max"
    if base in LOWER or base.startswith("loss"):
        return "min"
    return None


def arrow(key: str) -> str:
    """``↑`` (higher is better), ``↓`` (lower is better) or ``""``."""
    return {"max": "↑", "min": "↓"}.get(direction(key) or "", "")


def human_name(key: str, with_arrow: bool = False) -> str:
    """A reader's name of a metric key (``test_`` / ``valid_`` prefixes are dropped)."""
    _, qualifier, base = _split(key)
    name, _, cutoff = base.partition("@")
    text = _BASE_NAMES.get(name, name.replace("_", " "))
    if name == "recall" and cutoff:
        text = "Recall"
    if name == "precision" and cutoff:
        text = "Precision"
    if cutoff:
        text += f"@{cutoff}"
    if qualifier == "tuned":
        text = "valid-chosen threshold" if name == "threshold" else f"{text} @ valid-chosen threshold"
    elif qualifier == "rank":
        text += " (ranking all items)"
    elif name in ("accuracy", "fpr", "fnr", "precision", "recall", "f1") and not cutoff:
        text += " @0.5"
    mark = arrow(key)
    return f"{text} {mark}" if with_arrow and mark else text


_SEED_SUFFIX = re.compile(r"-seed\d+$")


def model_label(name: str) -> str:
    """The legend name of a model or variant (unknown names are returned as they are)."""
    name = _SEED_SUFFIX.sub("", str(name))
    if name in MODEL_NAMES:
        return MODEL_NAMES[name]
    head, sep, rest = name.partition(" (")
    if sep and head in MODEL_NAMES:
        return f"{MODEL_NAMES[head]} ({rest}"
    match = re.fullmatch(r"dlrrec-d(\d+)", name)
    if match:
        return f"DLRREC, d = {match.group(1)}"
    match = re.fullmatch(r"irllrec-(\w+)", name)
    if match:
        return f"IRLLRec without {match.group(1).replace('_', ' ')}"
    return name
