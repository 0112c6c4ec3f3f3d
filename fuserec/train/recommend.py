"""Top-k recommendation for one user by raw id, with a popularity fallback for cold users."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from fuserec.data.dataset import Dataset


@dataclass
class Recommendation:
    user: str                 # raw user id
    items: list[str]          # raw item ids, best first
    scores: list[float]
    source: str               # "model" or "popularity" (cold user)
    n_excluded: int           # items left out because the user already has them
    descriptions: list[str] = field(default_factory=list)  # short item text, where the data has it


def recommend(model: nn.Module, dataset: Dataset, raw_user: str, k: int = 10) -> Recommendation:
    """The ``k`` best items for ``raw_user`` that are not in the user's train or valid interactions.

    Unknown raw ids raise :class:`~fuserec.errors.DataError`; a user without training interactions
    is ranked by training popularity (``source="popularity"``).
    """
    user = dataset.user_of(raw_user)
    seen = dataset.csr(["train", "valid"])
    seen_items = seen.indices[seen.indptr[user]:seen.indptr[user + 1]]
    train = dataset.csr("train")
    cold = train.indptr[user + 1] == train.indptr[user]
    if cold:
        scores = torch.from_numpy(np.asarray(train.sum(axis=0), dtype=np.float32).ravel())
    else:
        device = next((t.device for t in list(model.parameters()) + list(model.buffers())), torch.device("cpu"))
        with torch.no_grad():
            scores = model.score(torch.tensor([user], device=device)).float().reshape(-1).cpu().clone()
    scores[torch.from_numpy(seen_items.astype(np.int64))] = -torch.inf
    k = min(k, dataset.n_items - len(seen_items))
    top = torch.topk(scores, k) if k > 0 else None
    indices = [] if top is None else top.indices.tolist()
    items = [str(dataset.item_ids[i]) for i in indices]
    values = [] if top is None else [float(v) for v in top.values.tolist()]
    return Recommendation(str(raw_user), items, values, "popularity" if cold else "model", len(seen_items),
                          [describe_item(dataset, i) for i in indices])


def describe_item(dataset: Dataset, item: int, width: int = 70) -> str:
    """The first sentence of the item's metadata text, cut to ``width`` characters ("" if none)."""
    if dataset.item_text is None:
        return ""
    text = str(dataset.item_text.iloc[item]).strip()
    first = text.split(". ", 1)[0]
    return first if len(first) <= width else first[: width - 1] + "…"
