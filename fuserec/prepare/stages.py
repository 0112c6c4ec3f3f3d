"""The prepared-inputs stages: (dataset, config) → named arrays, each stage one function.

* :func:`interaction_arrays`: the binary training matrix (graph models, popularity);
* :func:`text_arrays`: text vectors of one kind (``profile``/``intent``), after the text control;
* :func:`feature_arrays`: the pointwise feature tables of the DLRM family (bags, dense, schema);
* :func:`semantic_arrays`: the semantic vectors of every configured semantic field;
* :func:`pca_arrays`: a PCA per semantic field, fitted on the training entities;
* :func:`swing_arrays`: SWING neighbour lists of users or items on the training positives.

The expensive ones are cached on disk by content (:mod:`fuserec.prepare.cache`): SWING keyed by
the positives matrix and its parameters, PCA by the vectors, rows fitted on and its settings;
text vectors come from the text pipeline, which caches texts and vectors by their content.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
import torch

from fuserec.data.dataset import Dataset
from fuserec.data.labels import positives_matrix
from fuserec.errors import DataError
from fuserec.prepare.cache import ArtifactCache, digest
from fuserec.prepare.text import TextEmbeddings, load_text_embeddings
from fuserec.text.controls import apply_text_control

log = logging.getLogger("fuserec.prepare")

SIDES = ("user", "item")


def interaction_arrays(dataset: Dataset) -> dict[str, np.ndarray]:
    """``train/indptr`` (n_users + 1,) and ``train/indices`` (nnz,): the binary training CSR."""
    train = dataset.csr("train")
    return {"train/indptr": train.indptr.astype(np.int64), "train/indices": train.indices.astype(np.int64)}


def text_arrays(dataset: Dataset, kind: str, source: str, seed: int = 0, control: str = "none",
                given: TextEmbeddings | None = None, key: str = "model.text") -> dict[str, np.ndarray]:
    """``text/<kind>``: (n_users + n_items, D) float32, users first.

    From ``given`` vectors when passed, else from ``source`` (``text:BACKEND``, ``random:D``, a
    file; :func:`fuserec.prepare.text.load_text_embeddings`); then the text ``control`` is applied
    to each side on its own (users with ``seed``, items with ``seed + 1``).
    """
    if given is not None:
        text = TextEmbeddings.from_arrays(given.user, given.item, dataset, f"{kind} embeddings")
    else:
        text = load_text_embeddings(source, dataset, kind, seed, key)
    user = apply_text_control(text.user, control, seed)
    item = apply_text_control(text.item, control, seed + 1)
    stacked = np.concatenate([user, item], axis=0).astype(np.float32, copy=False)
    return {f"text/{kind}": np.ascontiguousarray(stacked)}


def pair_text_arrays(dataset: Dataset) -> dict[str, np.ndarray]:
    """The review vector of every (user, item) pair, for the leakage probe ``dlrrec_leaky`` only.

    ``pair_text/keys`` (P,) int64 sorted keys ``user * n_items + item``; ``pair_text/vectors``
    (P + 1, D) float32 in key order, the last row zeros (a pair without a review).
    """
    from fuserec.text.direct import review_embeddings

    vectors = np.asarray(review_embeddings(dataset), dtype=np.float32)          # (n_interactions, D)
    frame = dataset.interactions
    keys = frame["user"].to_numpy(np.int64) * dataset.n_items + frame["item"].to_numpy(np.int64)
    order = np.argsort(keys, kind="stable")
    table = np.concatenate([vectors[order], np.zeros((1, vectors.shape[1]), np.float32)])
    return {"pair_text/keys": keys[order], "pair_text/vectors": table}


def feature_arrays(dataset: Dataset, feature_config: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The DLRM feature tables (arrays) and their schema (meta) from :func:`build_features`.

    meta: ``threshold``, ``class_counts`` [negatives, positives] of the training examples,
    ``sparse_fields`` [[key, side, num_embeddings, multi]...] and ``dense_fields``
    [[key, side, mean, std]...]; ``train_entities`` (for the PCA fits) is returned as arrays
    ``features/train/users`` and ``features/train/items`` (the distinct entities with a training example).
    """
    from fuserec.data.features import build_features

    features = build_features(dataset, feature_config)
    arrays: dict[str, np.ndarray] = {}
    for side, tables in (("user", features.user), ("item", features.item)):
        for key, (indptr, values) in tables.bags.items():
            arrays[f"features/{side}/{key}/indptr"] = indptr.numpy()
            arrays[f"features/{side}/{key}/values"] = values.numpy()
        arrays[f"features/{side}/dense"] = tables.dense.numpy()
    train = features.splits["train"]
    arrays["features/train/users"] = np.unique(train.users.numpy())
    arrays["features/train/items"] = np.unique(train.items.numpy())
    meta = {
        "threshold": float(features.threshold),
        "class_counts": list(features.class_counts("train")),
        "sparse_fields": [[f.key, f.side, int(f.num_embeddings), bool(f.multi)] for f in features.sparse_fields],
        "dense_fields": [[f.key, f.side, float(f.mean), float(f.std)] for f in features.dense_fields],
    }
    return arrays, meta


def semantic_arrays(dataset: Dataset, fields: list[Any], given: Mapping[str, Any] | None = None,
                    seed: int = 0, control: str = "none") -> dict[str, np.ndarray]:
    """``semantic/<name>`` (n_side, D) float32 for each semantic field (given vectors first), after
    the text ``control`` (seeded ``seed + k`` for the k-th field)."""
    out = {}
    for k, spec in enumerate(fields):
        if given is not None and spec.name in given:
            array = given[spec.name]
            array = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
        else:
            array = load_semantic(dataset, spec)
        array = np.asarray(array, dtype=np.float32)
        n = dataset.n_users if spec.side == "user" else dataset.n_items
        if array.ndim != 2 or array.shape[0] != n:
            raise DataError(f"semantic field {spec.name!r} must have one row per {spec.side} ({n}), "
                            f"got shape {tuple(array.shape)}", spec.path, field=spec.name)
        if not np.isfinite(array).all():
            row = int(np.flatnonzero(~np.isfinite(array).all(1))[0])
            raise DataError(f"semantic field {spec.name!r} has a non-finite value", spec.path,
                            field=spec.name, row=row)
        out[f"semantic/{spec.name}"] = np.ascontiguousarray(apply_text_control(array, control, seed + k))
    return out


def load_semantic(dataset: Dataset, spec: Any, progress: bool = False) -> np.ndarray:
    """The (n_side, D) float32 vectors of one semantic field, from the text pipeline or a file."""
    if spec.source == "text":
        from fuserec.text.api import text_embeddings

        return np.asarray(text_embeddings(dataset, kind=spec.kind, side=spec.side, backend=spec.backend,
                                          progress=progress), dtype=np.float32)
    if spec.source == "metadata":
        from fuserec.text.direct import entity_text_embeddings

        return np.asarray(entity_text_embeddings(dataset, spec.side, progress=progress), dtype=np.float32)
    if spec.source == "train_reviews":
        from fuserec.text.direct import training_review_embeddings

        return np.asarray(training_review_embeddings(dataset, spec.side, progress=progress), dtype=np.float32)
    from fuserec.text.importing import import_vectors

    return np.asarray(import_vectors(spec.path, dataset, spec.side, ids_path=spec.ids_path,
                                     missing=spec.missing).matrix, dtype=np.float32)


def pca_arrays(name: str, vectors: np.ndarray, fit_rows: np.ndarray, dim: int, whiten: bool = False,
               cache: ArtifactCache | None = None, where: str | None = None) -> dict[str, np.ndarray]:
    """``pca/<name>/mean`` (D,) and ``pca/<name>/components`` (D, dim): PCA of ``vectors[fit_rows]``."""
    from fuserec.models.dlrm.blocks import fit_pca

    if len(fit_rows) < dim or vectors.shape[1] < dim:
        raise DataError(f"PCA of {name!r} to {dim} dimensions needs at least that many training entities "
                        f"and input dimensions; got {len(fit_rows)} and {vectors.shape[1]}", where, field=name)

    def compute() -> dict[str, np.ndarray]:
        pca = fit_pca(torch.from_numpy(np.ascontiguousarray(vectors[fit_rows])), dim, whiten=whiten)
        return {"mean": pca.mean.numpy(), "components": pca.components.numpy()}

    key = digest(vectors, fit_rows, {"dim": dim, "whiten": whiten})
    arrays = cache.get_or_compute("pca", key, compute) if cache is not None else compute()
    return {f"pca/{name}/{k}": v for k, v in arrays.items()}


def swing_arrays(dataset: Dataset, params: Any, threshold: float | None = None,
                 cache: ArtifactCache | None = None) -> dict[str, np.ndarray]:
    """``swing/<side>/indptr|indices|scores``: SWING neighbours of ``params.side`` on the training
    positives (:func:`fuserec.data.labels.positives_matrix` at ``threshold``)."""
    from fuserec.graph.swing import swing_from_params

    positives = positives_matrix(dataset, "train", threshold)

    def compute() -> dict[str, np.ndarray]:
        result = swing_from_params(positives, params)
        log.info("SWING %s-%s: %.1f%% of %ss have neighbours (top-%d)", params.side, params.side,
                 100 * result.coverage(), params.side, params.topk)
        return {"indptr": result.indptr.astype(np.int64), "indices": result.indices.astype(np.int64),
                "scores": result.scores.astype(np.float64)}

    key = digest(positives.indptr, positives.indices, np.asarray(positives.shape), params.to_dict())
    arrays = cache.get_or_compute("swing", key, compute) if cache is not None else compute()
    return {f"swing/{params.side}/{k}": v for k, v in arrays.items()}

