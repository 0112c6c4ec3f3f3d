"""Naming and loading a dataset: ``SOURCE`` strings, the dataset config, and the loader registry.

A SOURCE is one of (see DESIGN.md, "Naming a dataset"):

* a built-in name: ``synthetic`` or ``synthetic:SEED``;
* ``FORMAT:PATH`` with FORMAT a key of :data:`FORMATS`;
* a YAML file holding a :class:`DatasetConfig` (format, path, loader options, filters, split);
* a folder written by ``fuserec data convert`` (detected by its ``fuserec.json``).

Every loader is a module ``fuserec.data.loaders.<name>`` exposing an ``Options`` dataclass and
``load(path: Path | None, options: Options) -> Dataset``; modules are imported only when used.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fuserec.config import check_range, from_dict, load_yaml, to_dict
from fuserec.data.dataset import Dataset
from fuserec.data.splits import SplitConfig
from fuserec.errors import ConfigError, DataError, reading

#: format name -> (loader module, one-line description)
FORMATS: dict[str, tuple[str, str]] = {
    "synthetic": ("fuserec.data.loaders.synthetic", "built-in synthetic restaurant world (PATH unused)"),
    "irllrec": ("fuserec.data.loaders.irllrec", "folder of RLMRec/IRLLRec {trn,val,tst}_mat.pkl split pickles"),
    "atomic": ("fuserec.data.loaders.atomic", "RecBole atomic files (.inter/.item/.user): folder or file prefix"),
    "movielens": ("fuserec.data.loaders.movielens", "MovieLens: ML-100K u.data/u.item/u.user or the CSV releases"),
    "uci-restaurant": ("fuserec.data.loaders.uci_restaurant", "UCI Restaurant & consumer data folder"),
    "google-local": ("fuserec.data.loaders.google_local", "Google Local review-*.json.gz (+ meta-*.json.gz)"),
    "csv": ("fuserec.data.loaders.table", "any CSV file with a column mapping in options"),
    "parquet": ("fuserec.data.loaders.table", "any Parquet file with a column mapping in options"),
    "fuserec": ("fuserec.data.store", "a folder written by `fuserec data convert` (Parquet)"),
}

#: the recorded format of a dataset that was built in memory and given to a run (not reloadable)
MEMORY_FORMAT = "memory"


@dataclass
class FilterConfig:
    """Filters applied after loading and before splitting (only when the source has no split).

    min_user_interactions / min_item_interactions: iterated k-core filter (0 = off).
    """

    min_user_interactions: int = 0
    min_item_interactions: int = 0

    def validate(self) -> None:
        check_range(self.min_user_interactions, "filters.min_user_interactions", 0)
        check_range(self.min_item_interactions, "filters.min_item_interactions", 0)


@dataclass
class DatasetConfig:
    """Everything that defines a loaded dataset.

    format: one of :data:`FORMATS`.
    path: file or folder the loader reads (not used by ``synthetic``).
    name: name shown in reports (default: from the path).
    options: loader-specific options (see each loader's ``Options``).
    label_threshold: rating at or above which an interaction is positive (default: the source's).
    """

    format: str = "synthetic"
    path: str | None = None
    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    filters: FilterConfig = field(default_factory=FilterConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    label_threshold: float | None = None

    def validate(self) -> None:
        if self.format == MEMORY_FORMAT:
            return
        if self.format not in FORMATS:
            raise ConfigError(f"unknown format {self.format!r}; allowed: {', '.join(FORMATS)}", "format")
        if self.format not in ("synthetic",) and not self.path:
            raise ConfigError(f"format {self.format!r} needs a path", "path")


def parse_source(source: str | DatasetConfig | dict) -> DatasetConfig:
    """Turn a SOURCE string (or mapping) into a :class:`DatasetConfig`."""
    if isinstance(source, DatasetConfig):
        return source
    if isinstance(source, dict):
        return from_dict(DatasetConfig, source, prefix="dataset")
    text = str(source).strip()
    if not text:
        raise ConfigError("empty dataset SOURCE")
    if text == "synthetic" or text.startswith("synthetic:"):
        seed_text = text.partition(":")[2]
        options: dict[str, Any] = {}
        if seed_text:
            try:
                options["seed"] = int(seed_text)
            except ValueError:
                raise ConfigError(f"synthetic:SEED needs an integer seed, got {seed_text!r}") from None
        return DatasetConfig(format="synthetic", name="synthetic", options=options)
    if text.endswith((".yaml", ".yml")) and Path(text).is_file():
        data = load_yaml(text)
        data = data.get("dataset", data)
        if not isinstance(data, dict) or "format" not in data:
            what = "is empty" if not data else "has no 'format' key"
            raise ConfigError(f"dataset file {text} {what}; it must name a format (one of "
                              f"{', '.join(FORMATS)}) and, except for synthetic, a path", "dataset.format")
        try:
            cfg = from_dict(DatasetConfig, data, prefix="dataset")
            _loader_options(loader_module(cfg.format), cfg)  # options checked here, to name the file
        except ConfigError as exc:  # name the file the key is in
            raise ConfigError(f"{text}: {exc}") from None
        if cfg.path and not Path(cfg.path).is_absolute():
            cfg.path = str((Path(text).parent / cfg.path))
        return cfg
    fmt, sep, path = text.partition(":")
    if sep and fmt in FORMATS:
        return from_dict(DatasetConfig, {"format": fmt, "path": path}, prefix="dataset")
    candidate = Path(text)
    if candidate.is_dir() and (candidate / "fuserec.json").is_file():
        return DatasetConfig(format="fuserec", path=text)
    raise ConfigError(
        f"cannot read dataset SOURCE {text!r}: use 'synthetic', 'synthetic:SEED', FORMAT:PATH with "
        f"FORMAT one of {', '.join(f for f in FORMATS if f != 'synthetic')}, a YAML dataset file, "
        "or a folder written by `fuserec data convert`")


def loader_module(fmt: str):
    try:
        module_name = FORMATS[fmt][0]
    except KeyError:
        raise ConfigError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}", "format") from None
    return importlib.import_module(module_name)


def load_dataset(source: str | DatasetConfig | dict, *, split: bool = True) -> Dataset:
    """Load a dataset by SOURCE, apply filters and (if ``split``) the split; record the load time."""
    cfg = parse_source(source)
    if cfg.format == MEMORY_FORMAT:
        raise DataError(f"the dataset {cfg.name or ''} was given in memory when the run was trained and cannot "
                        "be loaded again; pass it (dataset=...) or train from a SOURCE", field="dataset.format")
    start = time.perf_counter()
    path = Path(cfg.path) if cfg.path else None
    if path is not None and not path.exists() and not path.with_name(path.name + ".inter").is_file():
        raise DataError("no such file or folder", path)
    module = loader_module(cfg.format)
    options = _loader_options(module, cfg)
    with reading(path, f"{cfg.format} dataset"):  # any failure left in a loader: one line naming the path
        dataset = module.load(path, options)
    if cfg.name:
        dataset = dataset.replace(name=cfg.name)
    if cfg.label_threshold is not None:
        dataset.meta["label_threshold"] = cfg.label_threshold
    if not dataset.is_split and (cfg.filters.min_user_interactions or cfg.filters.min_item_interactions):
        dataset = k_core(dataset, cfg.filters.min_user_interactions, cfg.filters.min_item_interactions)
    if split:
        dataset = dataset.with_split(cfg.split)
    dataset.meta.setdefault("format", cfg.format)
    dataset.meta.setdefault("path", cfg.path)
    recorded = to_dict(cfg)
    if cfg.path and cfg.format != "synthetic":
        recorded["path"] = str(Path(cfg.path).expanduser().resolve())
    dataset.meta["source"] = recorded  # what a run trained on this dataset records as its dataset
    dataset.meta["load_seconds"] = time.perf_counter() - start
    return dataset


def _loader_options(module, cfg: DatasetConfig):
    options_cls = getattr(module, "Options", None)
    if options_cls is None:
        if cfg.options:
            raise ConfigError(f"format {cfg.format!r} takes no options", "dataset.options")
        return None
    opts = dict(cfg.options)
    if cfg.format in ("csv", "parquet"):
        opts.setdefault("file_format", cfg.format)
    return from_dict(options_cls, opts, prefix="dataset.options")


def k_core(dataset: Dataset, min_user: int, min_item: int) -> Dataset:
    """Iteratively drop users with < ``min_user`` and items with < ``min_item`` interactions.

    Entities left without interactions are removed and indices re-numbered.
    """
    frame = dataset.interactions
    keep = np.ones(len(frame), dtype=bool)
    users = frame["user"].to_numpy()
    items = frame["item"].to_numpy()
    while True:
        uc = np.bincount(users[keep], minlength=dataset.n_users)
        ic = np.bincount(items[keep], minlength=dataset.n_items)
        new_keep = keep & (uc[users] >= min_user) & (ic[items] >= min_item)
        if new_keep.sum() == keep.sum():
            break
        keep = new_keep
    return subset(dataset, keep)


def subset(dataset: Dataset, keep: np.ndarray) -> Dataset:
    """Keep the interactions where ``keep`` is true; drop entities left without any; re-index."""
    frame = dataset.interactions[keep]
    if len(frame) == 0:
        raise DataError(f"no interactions left in {dataset.name} after filtering", dataset.meta.get("path"))
    used_users = np.unique(frame["user"].to_numpy())
    used_items = np.unique(frame["item"].to_numpy())
    umap = np.full(dataset.n_users, -1, dtype=np.int64)
    umap[used_users] = np.arange(len(used_users))
    imap = np.full(dataset.n_items, -1, dtype=np.int64)
    imap[used_items] = np.arange(len(used_items))
    frame = frame.copy()
    frame["user"] = umap[frame["user"].to_numpy()]
    frame["item"] = imap[frame["item"].to_numpy()]
    frame = frame.reset_index(drop=True)

    def take(table, idx):
        if table is None:
            return None
        return table.iloc[idx].reset_index(drop=True)

    truth = {}
    for key, arr in dataset.ground_truth.items():
        if key.startswith("user_") and len(arr) == dataset.n_users:
            truth[key] = arr[used_users]
        elif key.startswith("item_") and len(arr) == dataset.n_items:
            truth[key] = arr[used_items]
        else:
            truth[key] = arr
    return Dataset(
        name=dataset.name,
        user_ids=dataset.user_ids[used_users],
        item_ids=dataset.item_ids[used_items],
        interactions=frame,
        user_features=take(dataset.user_features, used_users),
        item_features=take(dataset.item_features, used_items),
        fields=list(dataset.fields),
        user_text=take(dataset.user_text, used_users),
        item_text=take(dataset.item_text, used_items),
        ground_truth=truth,
        meta=dict(dataset.meta),
    )
