"""The pointwise data path: labelled (user, item) examples with their sparse and dense fields.

From any :class:`~fuserec.data.dataset.Dataset` with ratings, :func:`build_features` makes

* a **schema**: the sparse fields (``user_id``, ``item_id`` and every ``token`` / ``token_seq``
  side field, each with its vocabulary size) and the dense fields (every ``float`` side field);
* **entity tables** (:class:`SideTables`), one per side: for every sparse field a bag of token
  indices per entity, stored as CSR arrays ``(indptr, values)``, and a dense matrix
  ``(n_entities, n_dense_side)`` standardised with training statistics;
* **examples** per split (:class:`Examples`): ``users``, ``items`` (int64) and ``labels``
  (float32, 1.0 where ``rating >= threshold``).

Vocabularies are built on the static fields of *all* users and items (side fields are not
interactions, so this leaks nothing); index 0 of every vocabulary is reserved for
"unknown or missing", so an empty bag or a missing token becomes the bag ``[0]``. Ids are a
sparse field like any other: ``user_id`` of user ``u`` is ``u + 1``.

:meth:`PointwiseFeatures.lookup` gathers the fields of a batch of (user, item) pairs fully
vectorised: per sparse field ``(values, offsets)`` as :class:`torch.nn.EmbeddingBag` expects, and
the dense matrix ``(B, n_dense)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from fuserec.config import check_range
from fuserec.data.dataset import SPLIT_CODES, TRAIN, Dataset, FieldSpec
from fuserec.data.labels import labels as label_rule
from fuserec.data.labels import resolve_threshold
from fuserec.errors import ConfigError, DataError

__all__ = ["FeatureConfig", "PointwiseFeatures", "build_features", "gather_bags", "resolve_threshold"]

log = logging.getLogger("fuserec.data.features")

#: Reserved index of every vocabulary: unknown or missing token.
UNKNOWN = 0


@dataclass
class FeatureConfig:
    """Which fields become model inputs and how labels are made.

    label_threshold: rating at or above which an example is positive; None takes the dataset's
        (``meta["label_threshold"]``), else 2 for rating scales topping at 2 and 4 otherwise
        (:func:`fuserec.data.labels.resolve_threshold`, the one rule).
    include_ids: add ``user_id`` and ``item_id`` as sparse fields.
    fields: side fields to use, as ``"side.name"`` (e.g. ``"item.cuisine"``); None uses all.
    exclude: side fields to leave out (same spelling), applied after ``fields``.
    min_token_count: tokens seen on fewer entities map to the unknown index 0 (1 keeps all).
    """

    label_threshold: float | None = None
    include_ids: bool = True
    fields: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    min_token_count: int = 1

    def validate(self) -> None:
        check_range(self.min_token_count, "features.min_token_count", 1)


@dataclass(frozen=True)
class SparseField:
    """One embedding-table input: ``key`` (``user_id``, ``item.cuisine``, ...), its side, its
    number of rows (vocabulary size including the reserved index 0) and whether entities can
    hold several tokens."""

    key: str
    side: str
    num_embeddings: int
    multi: bool


@dataclass(frozen=True)
class DenseField:
    """One standardised numeric input, with the training mean and standard deviation used."""

    key: str
    side: str
    mean: float
    std: float


@dataclass
class SideTables:
    """Per-entity inputs of one side (users or items).

    Attributes:
        bags: per sparse field key, ``(indptr (n+1,), values (nnz,))`` int64 tensors: entity
            ``e`` holds tokens ``values[indptr[e]:indptr[e+1]]`` (at least one each).
        dense: ``(n, n_dense_side)`` float32, standardised (missing values are 0, the mean).
    """

    bags: dict[str, tuple[torch.Tensor, torch.Tensor]]
    dense: torch.Tensor

    def gather(self, key: str, entities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bags of ``entities`` (B,) for field ``key`` as ``(values (nnz,), offsets (B,))``."""
        return gather_bags(*self.bags[key], entities)


@dataclass
class Examples:
    """Labelled examples of one split: ``users``, ``items`` (N,) int64 and ``labels`` (N,) float32."""

    users: torch.Tensor
    items: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def positive_rate(self) -> float:
        return float(self.labels.mean()) if len(self) else float("nan")


@dataclass
class FieldBatch:
    """The inputs of B examples: ``sparse[key] = (values, offsets)``, ``dense`` (B, n_dense)."""

    sparse: dict[str, tuple[torch.Tensor, torch.Tensor]]
    dense: torch.Tensor


@dataclass
class PointwiseFeatures:
    """Schema, entity tables and per-split examples of a dataset (see the module docstring)."""

    sparse_fields: list[SparseField]
    dense_fields: list[DenseField]
    user: SideTables
    item: SideTables
    splits: dict[str, Examples]
    threshold: float
    vocabularies: dict[str, np.ndarray]

    @property
    def n_dense(self) -> int:
        return len(self.dense_fields)

    def side_fields(self, side: str) -> list[SparseField]:
        return [f for f in self.sparse_fields if f.side == side]

    def lookup(self, users: torch.Tensor, items: torch.Tensor) -> FieldBatch:
        """Fields of the pairs ``(users[b], items[b])``; ``users``, ``items``: (B,) int64."""
        sparse = {}
        for f in self.sparse_fields:
            tables, ents = (self.user, users) if f.side == "user" else (self.item, items)
            sparse[f.key] = tables.gather(f.key, ents)
        dense = torch.cat([self.user.dense[users], self.item.dense[items]], dim=1)
        return FieldBatch(sparse, dense)

    def class_counts(self, split: str = "train") -> tuple[int, int]:
        """(negatives, positives) among the examples of ``split``."""
        labels = self.splits[split].labels
        pos = int(labels.sum())
        return len(labels) - pos, pos


# ---------------------------------------------------------------------- vectorised helpers
def gather_bags(indptr: torch.Tensor, values: torch.Tensor, entities: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate the CSR rows ``entities`` (B,): returns ``(values (nnz,), offsets (B,))``.

    No Python loop: lengths → exclusive cumsum → one ``repeat_interleave`` gather.
    """
    starts = indptr[entities]
    lengths = indptr[entities + 1] - starts
    offsets = torch.cumsum(lengths, 0) - lengths
    total = int(lengths.sum())
    device = indptr.device
    row_of = torch.repeat_interleave(torch.arange(len(entities), device=device), lengths, output_size=total)
    pos = starts[row_of] + (torch.arange(total, device=device) - offsets[row_of])
    return values[pos], offsets


def _tokens_long(column: pd.Series, kind: str) -> pd.DataFrame:
    """Long table (entity, token str) of a token or token_seq column; missing cells dropped."""
    if kind == "token_seq":
        def as_list(cell):
            if isinstance(cell, (list, tuple, np.ndarray)):
                return list(cell)
            if cell is None or (isinstance(cell, float) and np.isnan(cell)):
                return []
            return [cell]
        exploded = column.map(as_list).explode()
    else:
        exploded = column
    frame = pd.DataFrame({"entity": exploded.index.to_numpy(dtype=np.int64), "token": exploded.to_numpy()})
    frame = frame[frame["token"].notna().to_numpy()]
    frame["token"] = frame["token"].astype(str)
    frame = frame[frame["token"].str.len().to_numpy() > 0]
    return frame.drop_duplicates(["entity", "token"]) if kind == "token_seq" else frame


def _build_bags(long: pd.DataFrame, vocab: pd.Index, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """CSR (indptr, values) of token indices per entity; an entity with no token gets [0]."""
    codes = vocab.get_indexer(long["token"].to_numpy()) + 1          # 0 = unknown
    codes[codes < 1] = UNKNOWN
    entities = long["entity"].to_numpy()
    # Entities without tokens: add one UNKNOWN entry each.
    has = np.zeros(n, dtype=bool)
    has[entities] = True
    empty = np.flatnonzero(~has)
    entities = np.concatenate([entities, empty])
    codes = np.concatenate([codes, np.full(len(empty), UNKNOWN, dtype=codes.dtype)])
    order = np.argsort(entities, kind="stable")
    entities, codes = entities[order], codes[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(entities, minlength=n), out=indptr[1:])
    return torch.from_numpy(indptr), torch.from_numpy(codes.astype(np.int64))


def _vocabulary(longs: list[pd.DataFrame], min_count: int) -> pd.Index:
    """Sorted tokens seen on at least ``min_count`` entities (over every given long table)."""
    tokens = pd.concat([lt["token"] for lt in longs], ignore_index=True) if longs else pd.Series([], dtype=str)
    counts = tokens.value_counts()
    kept = counts.index[counts.to_numpy() >= min_count]
    return pd.Index(np.sort(np.asarray(kept, dtype=str)))


def select_fields(dataset: Dataset, config: FeatureConfig) -> list[FieldSpec]:
    """The side fields ``config`` asks for, in dataset order; ConfigError naming an unknown one."""
    known = {f"{f.side}.{f.name}": f for f in dataset.fields}
    wanted = list(known) if config.fields is None else list(config.fields)
    for key in list(wanted) + list(config.exclude):
        if key not in known:
            raise ConfigError(f"unknown side field {key!r}; {dataset.name} has: "
                              f"{', '.join(known) or '(none)'}", "features.fields")
    return [known[k] for k in known if k in wanted and k not in config.exclude]


# ---------------------------------------------------------------------- building
def build_features(dataset: Dataset, config: FeatureConfig | None = None) -> PointwiseFeatures:
    """Build the pointwise inputs of ``dataset`` (which must have ratings and a split)."""
    config = config or FeatureConfig()
    where = dataset.meta.get("path")
    if not dataset.has_ratings:
        raise DataError(f"{dataset.name} has no ratings: pointwise labels need explicit ratings",
                        where, field="rating")
    inter = dataset.interactions
    rating = inter["rating"].to_numpy()
    if np.isnan(rating).any():
        row = int(np.flatnonzero(np.isnan(rating))[0])
        raise DataError(f"{int(np.isnan(rating).sum())} interactions have no rating; pointwise labels "
                        "need one on every interaction", where, field="rating", row=row + 1)
    if not dataset.is_split:
        raise DataError(f"{dataset.name} has no train/valid/test split; apply one first", where, field="split")
    threshold = resolve_threshold(dataset, config.label_threshold)
    split_col = inter["split"].to_numpy()
    if not (split_col == TRAIN).any():
        raise DataError(f"{dataset.name} has no training interaction", where, field="split")

    chosen = select_fields(dataset, config)
    sparse_fields: list[SparseField] = []
    vocabularies: dict[str, np.ndarray] = {}
    bags: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {"user": {}, "item": {}}
    sizes = {"user": dataset.n_users, "item": dataset.n_items}
    if config.include_ids:
        for side in ("user", "item"):
            n = sizes[side]
            bags[side][f"{side}_id"] = (torch.arange(n + 1, dtype=torch.int64),
                                        torch.arange(1, n + 1, dtype=torch.int64))
            sparse_fields.append(SparseField(f"{side}_id", side, n + 1, False))
    for spec in chosen:
        if spec.kind == "float":
            continue
        table = dataset.user_features if spec.side == "user" else dataset.item_features
        key = f"{spec.side}.{spec.name}"
        long = _tokens_long(table[spec.name], spec.kind)
        vocab = _vocabulary([long], config.min_token_count)
        bags[spec.side][key] = _build_bags(long, vocab, sizes[spec.side])
        vocabularies[key] = vocab.to_numpy()
        sparse_fields.append(SparseField(key, spec.side, len(vocab) + 1, spec.kind == "token_seq"))
    if not sparse_fields:
        raise ConfigError("no sparse field is left (include_ids is off and no token field was chosen)",
                          "features")

    train_users = inter["user"].to_numpy()[split_col == TRAIN]
    train_items = inter["item"].to_numpy()[split_col == TRAIN]
    dense_fields: list[DenseField] = []
    dense = {"user": [], "item": []}
    for spec in chosen:
        if spec.kind != "float":
            continue
        table = dataset.user_features if spec.side == "user" else dataset.item_features
        key = f"{spec.side}.{spec.name}"
        values = pd.to_numeric(table[spec.name], errors="coerce").to_numpy(dtype=np.float64)
        train_rows = train_users if spec.side == "user" else train_items
        seen = values[train_rows]                           # one value per training example
        seen = seen[np.isfinite(seen)]
        mean = float(seen.mean()) if len(seen) else 0.0
        std = float(seen.std()) if len(seen) else 1.0
        std = std if std > 1e-12 else 1.0
        standardised = np.where(np.isfinite(values), (values - mean) / std, 0.0)
        dense[spec.side].append(standardised.astype(np.float32))
        dense_fields.append(DenseField(key, spec.side, mean, std))
    # Dense fields are ordered user side first, then item side (the order lookup() concatenates).
    dense_fields = [f for f in dense_fields if f.side == "user"] + [f for f in dense_fields if f.side == "item"]
    side_tables = {}
    for side in ("user", "item"):
        cols = dense[side]
        mat = np.stack(cols, axis=1) if cols else np.zeros((sizes[side], 0), dtype=np.float32)
        side_tables[side] = SideTables(bags[side], torch.from_numpy(np.ascontiguousarray(mat)))

    splits = {}
    users_all = torch.from_numpy(np.array(inter["user"].to_numpy(), dtype=np.int64))
    items_all = torch.from_numpy(np.array(inter["item"].to_numpy(), dtype=np.int64))
    labels_all = torch.from_numpy(label_rule(rating, threshold))
    for name, code in SPLIT_CODES.items():
        mask = torch.from_numpy(split_col == code)
        splits[name] = Examples(users_all[mask], items_all[mask], labels_all[mask])
    train = splits["train"]
    if train.labels.min() == train.labels.max():
        log.warning("%s: every training label is %d at threshold %g", dataset.name,
                    int(train.labels[0]), threshold)
    return PointwiseFeatures(sparse_fields, dense_fields, side_tables["user"], side_tables["item"],
                             splits, threshold, vocabularies)
