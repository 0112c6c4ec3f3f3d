"""Top-k recommendation for one user of an in-memory dataset (the same ranking as
:meth:`fuserec.Recommender.recommend`: :func:`fuserec.serving.top_k`)."""

from __future__ import annotations

from torch import nn

from fuserec.data.dataset import Dataset
from fuserec.data.describe import describe_item
from fuserec.serving import Recommendation, ServingData, top_k

__all__ = ["Recommendation", "describe_item", "recommend"]


def recommend(model: nn.Module, dataset: Dataset, raw_user: str, k: int = 10) -> Recommendation:
    """The ``k`` best items for ``raw_user`` that are not in the user's train or valid interactions.

    Unknown raw ids raise :class:`~fuserec.errors.DataError`; a user without training interactions
    is ranked by training popularity (``source="popularity"``).
    """
    serving = ServingData.from_dataset(dataset)
    return top_k(model, serving, serving.users_of([raw_user]), k)[0]
