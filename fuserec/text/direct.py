"""Embeddings of texts the data already holds, encoded as they are (no generation step).

* :func:`entity_text_embeddings`: each user's or item's own metadata text (``dataset.user_text``
  / ``dataset.item_text``: a bio or stated preferences, a description, tags). Static metadata,
  known at training time, so it obeys the leakage rule as long as the loader put only such text
  there (static metadata: the synthetic world's bios, UCI users' stated preferences).
* :func:`training_review_texts` / :func:`training_review_embeddings`: each entity's own words
  from its TRAINING interactions only (e.g. the MovieLens tags a user gave, or the tags an item
  received, on training pairs), distinct snippets joined: leakage-proof by construction.
* :func:`review_embeddings`: the review text of every interaction, one row per interaction. This
  is what the deliberately leaky ``dlrrec_leaky`` variant feeds: a review states its own rating.

Both go through the vector cache (:class:`fuserec.text.cache.VectorStore`), keyed by text hash.
"""

from __future__ import annotations

import os

import numpy as np

from fuserec.data.dataset import Dataset
from fuserec.errors import DataError
from fuserec.text.cache import VectorStore
from fuserec.text.encode import SentenceEncoder, encode_cached

#: What an empty own text is encoded as (so that every entity has a vector).
EMPTY_TEXT = "(no text)"


def _encoder(encoder: SentenceEncoder | str | None, progress: bool) -> SentenceEncoder:
    return encoder if isinstance(encoder, SentenceEncoder) else SentenceEncoder(encoder, show_progress=progress)


def entity_text_embeddings(dataset: Dataset, side: str, encoder: SentenceEncoder | str | None = None,
                           cache_dir: str | os.PathLike | None = None, progress: bool = False) -> np.ndarray:
    """``(n_side, D)`` float32 L2-normalised vectors of each entity's own metadata text.

    An entity with an empty text gets the vector of :data:`EMPTY_TEXT`. A dataset without any
    text on ``side`` is a :class:`DataError`.
    """
    if side not in ("user", "item"):
        raise DataError(f"side must be user or item, got {side!r}", field="side")
    series = dataset.user_text if side == "user" else dataset.item_text
    if series is None:
        raise DataError(f"{dataset.name} has no {side} text of its own (a metadata text per {side}); use a "
                        "generated text source instead", dataset.meta.get("path"), field=f"{side}_text")
    ids = dataset.user_ids if side == "user" else dataset.item_ids
    texts = [str(t).strip() or EMPTY_TEXT for t in series.tolist()]
    enc = _encoder(encoder, progress)
    store = VectorStore(cache_dir, dataset.name, "own", side, "metadata", enc.key)
    vectors, _ = encode_cached(texts, [str(i) for i in ids], enc, store)
    return vectors


def training_review_texts(dataset: Dataset, side: str, max_chars: int = 1000) -> list[str]:
    """One text per entity of ``side``: the distinct non-empty reviews (tags) of its training
    interactions, most frequent first, ``"; "``-joined and cut to ``max_chars``; ``""`` without any."""
    from fuserec.text.facts import training_frame

    if not dataset.has_reviews:
        raise DataError(f"{dataset.name} has no review texts", dataset.meta.get("path"), field="review")
    train = training_frame(dataset)
    words = train["review"].astype(str).str.strip()
    train = train.assign(review=words)[words != ""]
    counts = train.groupby([side, "review"], sort=False).size().rename("n").reset_index()
    counts = counts.sort_values([side, "n", "review"], ascending=[True, False, True], kind="stable")
    joined = counts.groupby(side, sort=False)["review"].agg("; ".join)
    n = dataset.n_users if side == "user" else dataset.n_items
    out = [""] * n
    for e, text in joined.items():
        out[int(e)] = text[:max_chars]
    return out


def training_review_embeddings(dataset: Dataset, side: str, encoder: SentenceEncoder | str | None = None,
                               cache_dir: str | os.PathLike | None = None, progress: bool = False) -> np.ndarray:
    """``(n_side, D)`` vectors of :func:`training_review_texts` (empty texts as :data:`EMPTY_TEXT`)."""
    ids = dataset.user_ids if side == "user" else dataset.item_ids
    texts = [t or EMPTY_TEXT for t in training_review_texts(dataset, side)]
    enc = _encoder(encoder, progress)
    store = VectorStore(cache_dir, dataset.name, "train-reviews", side, "joined", enc.key)
    vectors, _ = encode_cached(texts, [str(i) for i in ids], enc, store)
    return vectors


def review_embeddings(dataset: Dataset, encoder: SentenceEncoder | str | None = None,
                      cache_dir: str | os.PathLike | None = None, progress: bool = False) -> np.ndarray:
    """``(n_interactions, D)`` float32 vectors of every interaction's review (row order of
    ``dataset.interactions``); empty reviews get the vector of :data:`EMPTY_TEXT`."""
    if not dataset.has_reviews:
        raise DataError(f"{dataset.name} has no review texts", dataset.meta.get("path"), field="review")
    frame = dataset.interactions
    texts = [str(t).strip() or EMPTY_TEXT for t in frame["review"].tolist()]
    keys = (frame["user"].astype(str) + ":" + frame["item"].astype(str)).tolist()
    enc = _encoder(encoder, progress)
    store = VectorStore(cache_dir, dataset.name, "review", "pair", "interactions", enc.key)
    vectors, _ = encode_cached(texts, keys, enc, store)
    return vectors
