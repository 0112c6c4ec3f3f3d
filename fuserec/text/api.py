"""The one call later models use: texts generated if needed, encoded if needed, all cached."""

from __future__ import annotations

import logging
import os

import numpy as np

from fuserec.data.dataset import Dataset
from fuserec.errors import ConfigError
from fuserec.text.backends.base import TextGenerator
from fuserec.text.cache import VectorStore
from fuserec.text.encode import DEFAULT_CHUNK_SIZE, SentenceEncoder, encode_cached
from fuserec.text.generate import GenerationConfig, TextTable, generate_texts, normalise_kind_side

log = logging.getLogger("fuserec.text")

ON_FAILURE = ("error", "zero")


def embed_table(dataset: Dataset, table: TextTable, encoder: SentenceEncoder | None = None,
                cache_dir: str | os.PathLike | None = None, on_failure: str = "error",
                chunk_size: int = DEFAULT_CHUNK_SIZE) -> tuple[np.ndarray, int]:
    """``(len(table.ids), d)`` float32 vectors of a :class:`TextTable`, through the vector cache.

    A failed text raises (``on_failure="error"``) or gets a zero vector (``"zero"``); returns the
    matrix and the number of texts encoded now. Every ``chunk_size`` texts encoded are persisted
    at once, so an interrupted call resumes where it stopped (see :func:`encode_cached`).
    """
    if on_failure not in ON_FAILURE:
        raise ConfigError(f"unknown on_failure {on_failure!r}; allowed: {', '.join(ON_FAILURE)}", "text.on_failure")
    encoder = encoder or SentenceEncoder()
    texts = table.texts("error" if on_failure == "error" else "empty")
    ok = np.asarray([not r.get("error") for r in table.records], dtype=bool)
    store = VectorStore(cache_dir, dataset.name, table.kind, table.side, table.key, encoder.key)
    ids = [i for i, good in zip(table.ids, ok) if good]
    vecs, n_new = encode_cached([t for t, good in zip(texts, ok) if good], ids, encoder, store, chunk_size)
    if ok.all():
        return vecs, n_new
    out = np.zeros((len(texts), vecs.shape[1] if len(vecs) else encoder.dimension), dtype=np.float32)
    out[ok] = vecs
    log.warning("%d %s %s texts failed; their rows are zero vectors", int((~ok).sum()), table.side, table.kind)
    return out, n_new


def text_embeddings(dataset: Dataset, kind: str = "profile", side: str = "user",
                    backend: str | TextGenerator = "template", encoder: SentenceEncoder | str | None = None,
                    cache_dir: str | os.PathLike | None = None, config: GenerationConfig | None = None,
                    on_failure: str = "error", progress: bool = True) -> np.ndarray:
    """``(n_users or n_items, d)`` float32 L2-normalised embeddings of every entity's text.

    Args:
        kind: ``"profile"`` (RLMRec summaries) or ``"intent"`` (IRLLRec likes/dislikes sentences).
        side: ``"user"`` or ``"item"``.
        backend: ``"template"`` (default), ``"local"``, ``"openai"``, or a generator object.
        encoder: a :class:`SentenceEncoder`, a sentence-transformers model folder, or None for
            all-MiniLM-L6-v2 (384-d).
        cache_dir: the cache folder (default ``$FUSEREC_CACHE`` or ``.fuserec-cache``).
        on_failure: ``"error"`` (a failed text raises) or ``"zero"`` (its row is zero).
    """
    kind, side = normalise_kind_side(kind, side)
    if config is not None and config.limit is not None:
        raise ConfigError("text_embeddings covers every entity; leave limit unset", "text.limit")
    if not isinstance(encoder, SentenceEncoder):
        encoder = SentenceEncoder(encoder, show_progress=progress)
    table = generate_texts(dataset, kind, side, backend, cache_dir, config, progress=progress)
    vectors, _ = embed_table(dataset, table, encoder, cache_dir, on_failure)
    return vectors
