"""Evidence grids: where fusing language knowledge pays off, and where it does not.

A grid is a list of **cells** (a dataset configuration: world options, split) × **variants**
(a registered model plus config overrides) × **seeds**. Seed ``s`` fixes everything random in a
run: the synthetic world (``dataset.options.seed``), its texts (``text_seed``), the split
(``split.seed``), the model's own draws and text controls (``model.seed`` / ``model.text_seed``)
and the initialisation and sampling (``train.seed``), so that variants are compared paired, seed
by seed, with :func:`fuserec.stats.paired_difference`.

Runs train with early stopping on the validation split under a generous epoch cap; every result
row records the best epoch and whether it sat at the cap (``peaked_at_cap``: then the cap bound
and the row must be read as "not converged").

Resumable and incremental: one CSV row per finished run is appended (whole line, flushed) to
``results.csv`` as soon as it finishes; a (cell, variant, seed) already in the CSV is skipped;
a run interrupted mid-training resumes from its ``last.pt``.

Library use::

    from fuserec.evidence import GRIDS, run_grid
    run_grid(GRIDS["a"], seeds=range(5), out_dir="runs/evidence", csv_path="docs/results/evidence/a.csv")

Command line: ``python -m fuserec.evidence run a --seeds 5`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from fuserec.data.loaders.synthetic import DEMO_OPTIONS

log = logging.getLogger("fuserec.evidence")

#: Both text fields of the DLRM family read each entity's own text (bio / description).
OWN_TEXT_FIELDS = [{"name": "user_text", "side": "user", "source": "metadata"},
                   {"name": "item_text", "side": "item", "source": "metadata"}]
EPOCH_CAP_POINTWISE = 150
EPOCH_CAP_RANKING = 300
SPARSE = {"reviews_per_user": 5.0, "min_reviews_per_user": 2}
RATIO_SPLIT = {"method": "ratio", "ratios": [0.6, 0.2, 0.2]}
DENSE = {"reviews_per_user": 20.0, "min_reviews_per_user": 5}


@dataclass(frozen=True)
class Cell:
    """One dataset setting of a grid: synthetic world options (``seed``/``text_seed`` are set per
    seed) and the split (``seed`` set per seed)."""

    name: str
    options: Mapping[str, Any]
    split: Mapping[str, Any] = field(default_factory=lambda: dict(RATIO_SPLIT))
    format: str = "synthetic"
    path: str | None = None        # a real dataset's folder, relative to :func:`data_root`

    def dataset_config(self, seed: int) -> dict[str, Any]:
        options = dict(self.options)
        if self.format == "synthetic":
            options.update(seed=seed, text_seed=seed)
        # One dataset name per seed: cells of a seed share the text-vector cache (reviews, texts).
        # A real dataset keeps one name: its texts do not change with the seed (only the split does).
        name = f"{self.format}-seed{seed}" if self.format == "synthetic" else self.path.replace("/", "-")
        out = {"format": self.format, "name": name, "options": options,
               "split": dict(self.split, seed=seed)}
        if self.path:
            out["path"] = str(data_root() / self.path)
        return out


def data_root() -> Path:
    """The shared data folder: ``$FUSEREC_DATA``, else ``../shared/data`` (relative to the working
    directory, i.e. the repository root)."""
    return Path(os.environ.get("FUSEREC_DATA", "../shared/data"))


@dataclass(frozen=True)
class Arm:
    """One variant: a registered model and its overrides (a nested mapping merged into the run config)."""

    name: str
    model: str
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Grid:
    name: str
    cells: Sequence[Cell]
    arms: Sequence[Arm]
    description: str = ""


# ---------------------------------------------------------------------- the arms
def _own(extra: Mapping[str, Any] | None = None, fields: Sequence[Mapping[str, Any]] = OWN_TEXT_FIELDS
         ) -> dict[str, Any]:
    return {"semantic": copy.deepcopy(list(fields)), **(extra or {})}


def dlrrec_arms(fields: Sequence[Mapping[str, Any]] = OWN_TEXT_FIELDS,
                dlrrec: Mapping[str, Any] | None = None) -> tuple[Arm, ...]:
    """The DLRREC family reading the text ``fields``: the text-free control at the same d
    (``dlrm``), raw 384-d vectors (``dlrm_raw``), the paper's two-step V0, the co-trained reduction
    without the SWING InfoNCE losses (``dlrrec-cotrain``), DLRREC, its two text controls, and the
    deliberately leaky probe. ``dlrrec``: overrides of every DLRREC arm (e.g. ``w_ii: 0`` where
    items have no text to contrast)."""
    own = dict(dlrrec or {})
    return (
        Arm("dlrm", "dlrm"),
        Arm("two_step", "two_step", _own(fields=fields)),
        Arm("dlrrec", "dlrrec", _own(own, fields)),
        Arm("dlrrec-shuffled", "dlrrec", _own({**own, "text_control": "shuffled"}, fields)),
        Arm("dlrrec-random", "dlrrec", _own({**own, "text_control": "random"}, fields)),
        Arm("dlrrec-leaky", "dlrrec_leaky", _own(own, fields)),
        Arm("dlrm_raw", "dlrm_raw", _own(fields=fields)),
        Arm("dlrrec-cotrain", "dlrrec", _own({**own, "w_uu": 0.0, "w_ii": 0.0}, fields)),
    )


DLRREC_ARMS = dlrrec_arms()
#: ml-latest-small: the tags each user gave and each movie received on TRAINING pairs (users' own
#: words; empty for most users), and each movie's title and genres (what MiniLM knows of the film).
ML_TEXT_FIELDS = [{"name": "user_tags", "side": "user", "source": "train_reviews"},
                  {"name": "item_tags", "side": "item", "source": "train_reviews"},
                  {"name": "item_text", "side": "item", "source": "metadata"}]
#: UCI: each user's stated preferences (profile and cuisine / payment files as first-person text).
UCI_TEXT_FIELDS = [{"name": "user_text", "side": "user", "source": "metadata"}]
REAL_ARM_NAMES = ("dlrm", "dlrm_raw", "two_step", "dlrrec-cotrain", "dlrrec", "dlrrec-shuffled", "dlrrec-random")
#: Without id embeddings: a user or item is known only through side fields (and text). In the sparse
#: regime the id embeddings overfit within a few epochs; these arms ask whether text replaces them.
NO_ID_ARMS = (
    Arm("dlrm-noids", "dlrm", {"features": {"include_ids": False}}),
    Arm("dlrrec-noids", "dlrrec", _own({"features": {"include_ids": False}})),
    Arm("dlrrec-noids-shuffled", "dlrrec", _own({"features": {"include_ids": False}, "text_control": "shuffled"})),
)
DENOISE_ARMS = tuple(a for a in DLRREC_ARMS if a.name in ("dlrm", "two_step", "dlrrec", "dlrrec-shuffled"))
GRAPH_ARMS = (
    Arm("lightgcn", "lightgcn"),
    Arm("rlmrec_con", "rlmrec_con", {"profile_source": "metadata"}),
    Arm("rlmrec_con-shuffled", "rlmrec_con", {"profile_source": "metadata", "text_control": "shuffled"}),
    Arm("irllrec", "irllrec", {"profile_source": "metadata", "intent_source": "metadata"}),
)

#: Scoring cold entities from their text (``cold_start: text_ridge``; beyond the papers).
COLD_GRAPH_ARMS = (
    Arm("rlmrec_con-coldtext", "rlmrec_con", {"profile_source": "metadata", "cold_start": "text_ridge"}),
    Arm("rlmrec_con-coldtext-shuffled", "rlmrec_con", {"profile_source": "metadata", "cold_start": "text_ridge",
                                                       "text_control": "shuffled"}),
    Arm("irllrec-coldtext", "irllrec", {"profile_source": "metadata", "intent_source": "metadata",
                                        "cold_start": "text_ridge"}),
)

#: The align gate w = min(1, (mean |e_u| / rho)^2) on IRLLRec's text terms: rho swept (1 is the default,
#: the "irllrec" arm), switched off, and an ungated warm-up (text terms off for 5 epochs, then at full weight).
GATE_ARMS = (
    Arm("lightgcn", "lightgcn"),
    Arm("irllrec", "irllrec", {"profile_source": "metadata", "intent_source": "metadata"}),
    *(Arm(f"irllrec-rho{rho:g}", "irllrec", {"profile_source": "metadata", "intent_source": "metadata",
                                            "align_gate_norm": rho}) for rho in (0.5, 2.0, 4.0)),
    Arm("irllrec-nogate", "irllrec", {"profile_source": "metadata", "intent_source": "metadata", "align_gate_norm": 0.0}),
    Arm("irllrec-warmup5", "irllrec", {"profile_source": "metadata", "intent_source": "metadata",
                                       "align_gate_norm": 0.0, "align_warmup_epochs": 5}),
)


def _world(informativeness: float, nuisance: float = 0.2, density: Mapping[str, Any] = SPARSE) -> dict[str, Any]:
    base = {k: v for k, v in DEMO_OPTIONS.items() if k not in ("text_informativeness", "text_nuisance",
                                                               "reviews_per_user", "min_reviews_per_user")}
    return {**base, **density, "text_informativeness": informativeness, "text_nuisance": nuisance}


def _cell(name: str, informativeness: float, nuisance: float = 0.2, density=SPARSE, split=None) -> Cell:
    return Cell(name, _world(informativeness, nuisance, density), split or dict(RATIO_SPLIT))


GRIDS: dict[str, Grid] = {
    "a": Grid("a", [_cell("inf1-sparse", 1.0), _cell("inf0-sparse", 0.0)], DLRREC_ARMS + NO_ID_ARMS,
              "DLRREC family, informative vs uninformative text, sparse users"),
    "b": Grid("b", [_cell("inf0.5-sparse", 0.5), _cell("inf0.25-sparse", 0.25),
                    _cell("inf1-dense", 1.0, density=DENSE), _cell("inf0.5-dense", 0.5, density=DENSE),
                    _cell("inf0.25-dense", 0.25, density=DENSE), _cell("inf0-dense", 0.0, density=DENSE)],
              tuple(a for a in DLRREC_ARMS if a.name != "dlrrec-leaky"),
              "DLRREC family, intermediate informativeness and dense users"),
    "c": Grid("c", [_cell(f"inf1-nuis{q}-sparse", 1.0, q) for q in (0.0, 0.5, 1.0)], DENOISE_ARMS,
              "denoising check: informativeness 1, nuisance rising"),
    "cold": Grid("cold", [_cell("inf1-sparse-coldusers", 1.0, split={"method": "cold_users", "ratio": 0.2}),
                          _cell("inf1-sparse-colditems", 1.0, split={"method": "cold_items", "ratio": 0.2})],
                 tuple(a for a in DLRREC_ARMS if a.name in ("dlrm", "two_step", "dlrrec", "dlrrec-shuffled")),
                 "DLRREC family on cold users / cold items (informative text)"),
    "d": Grid("d", [_cell("inf1-sparse", 1.0), _cell("inf1-sparse-colditems", 1.0,
                                                     split={"method": "cold_items", "ratio": 0.2}),
                    _cell("inf0-sparse", 0.0), _cell("inf1-dense", 1.0, density=DENSE),
                    _cell("inf0-sparse-colditems", 0.0, split={"method": "cold_items", "ratio": 0.2})],
              GRAPH_ARMS + COLD_GRAPH_ARMS,
              "LightGCN / RLMRec-Con / IRLLRec on the synthetic world, warm and cold items"),
    "sparsity": Grid("sparsity", [_cell(f"inf1-dense-train{f:g}", 1.0, density=DENSE,
                                        split={**RATIO_SPLIT, "train_fraction": f}) for f in (0.1, 0.3)],
                     tuple(a for a in DLRREC_ARMS if a.name in ("dlrm", "two_step", "dlrrec", "dlrrec-shuffled"))
                     + tuple(a for a in GRAPH_ARMS if a.name in ("lightgcn", "rlmrec_con", "irllrec")),
                     "sparsity sweep: dense users' training interactions thinned to 10% / 30% (valid, test kept)"),
    "dim": Grid("dim", [_cell("inf1-sparse", 1.0)],
                tuple(Arm(f"{name}-d{d}", model, {**cfg, "dim": d}) for d in (16, 64)
                      for name, model, cfg in (("dlrm", "dlrm", {}), ("dlrrec", "dlrrec", _own())))
                + (Arm("dlrm-d128", "dlrm", {"dim": 128}), Arm("dlrrec-d128", "dlrrec", _own({"dim": 128}))),
                "dimension sweep with the text-free control at every d (d = 32 is grid a's dlrm / dlrrec)"),
    "gate": Grid("gate", [_cell("inf1-sparse", 1.0)], GATE_ARMS,
                 "IRLLRec's align gate: rho swept, no gate, and an ungated warm-up (results go with grid d's)"),
    "ml": Grid("ml", [Cell("ml-tags", {}, format="movielens", path="movielens/ml-latest-small"),
                      Cell("ml-tags-colditems", {}, {"method": "cold_items", "ratio": 0.2}, format="movielens",
                           path="movielens/ml-latest-small")],
               tuple(a for a in dlrrec_arms(ML_TEXT_FIELDS) if a.name in REAL_ARM_NAMES),
               "DLRREC family on ml-latest-small: users' and movies' training tags, movie titles and genres"),
    "uci": Grid("uci", [Cell("uci", {}, format="uci-restaurant", path="uci-restaurant"),
                        Cell("uci-coldusers", {}, {"method": "cold_users", "ratio": 0.2}, format="uci-restaurant",
                             path="uci-restaurant")],
                tuple(a for a in dlrrec_arms(UCI_TEXT_FIELDS, {"w_ii": 0.0}) if a.name in REAL_ARM_NAMES),
                "DLRREC family on UCI restaurants: users' stated preferences (no item text: no item-item "
                "InfoNCE)"),
}


# ---------------------------------------------------------------------- one run
def run_config(cell: Cell, arm: Arm, seed: int, threads: int = 1) -> dict[str, Any]:
    """The raw run configuration (dataset / model / train / eval) of (cell, arm, seed)."""
    from fuserec.models import get_model

    task = get_model(arm.model).task
    model = {"name": arm.model, **copy.deepcopy(dict(arm.config))}
    if "seed" in _config_fields(arm.model):
        model["seed"] = seed
    if "text_seed" in _config_fields(arm.model):
        model["text_seed"] = seed
    train = {"seed": seed, "epochs": EPOCH_CAP_POINTWISE if task == "pointwise" else EPOCH_CAP_RANKING,
             "patience": 8, "progress": False, "device": "cpu", "checkpoint_every": 10**6}
    if task == "pointwise":
        train.update(batch_size=1024)
        evaluate = {"ranking_on_valid": False, "ranking_on_test": False}
    else:
        train.update(batch_size=2048, eval_every=3, patience=5)
        evaluate = {}
    return {"dataset": cell.dataset_config(seed), "model": model, "train": train, "eval": evaluate}


def _config_fields(model: str) -> set[str]:
    import dataclasses

    from fuserec.models import get_model

    return {f.name for f in dataclasses.fields(get_model(model).Config)}


RESULT_KEYS_POINTWISE = ("roc_auc", "pr_auc", "accuracy", "fpr", "fnr", "f1", "log_loss",
                         "tuned_accuracy", "tuned_fpr", "tuned_fnr", "gauc")
RESULT_KEYS_RANKING = ("recall@20", "ndcg@20", "recall@10", "ndcg@10")


def result_row(cell: Cell, arm: Arm, seed: int, cfg, result, seconds: float) -> dict[str, Any]:
    """The CSV row of one finished run: ids, best / run / cap epochs, whether the best epoch sat at
    the cap, seconds, test metrics and the best validation value of the monitored metric."""
    task_keys = RESULT_KEYS_POINTWISE if "roc_auc" in result.test else RESULT_KEYS_RANKING
    row: dict[str, Any] = {"cell": cell.name, "variant": arm.name, "model": arm.model, "seed": seed,
                           "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                           "epoch_cap": cfg.train.epochs,
                           "peaked_at_cap": bool(result.best_epoch is not None
                                                 and result.best_epoch >= cfg.train.epochs - cfg.train.eval_every + 1),
                           "seconds": round(seconds, 2)}
    for key in task_keys:
        if key in result.test:
            row[f"test_{key}"] = result.test[key]
    best_valid = (result.metrics.get("best") or {}).get("valid") or {}
    monitor = result.metrics.get("monitor")
    if monitor in best_valid:
        row[f"valid_{monitor}"] = best_valid[monitor]
    return row


# ---------------------------------------------------------------------- results file
def read_rows(csv_path: str | Path) -> list[dict[str, str]]:
    path = Path(csv_path)
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _append_row(csv_path: Path, row: dict[str, Any]) -> None:
    """Append one row (rewriting the file atomically when the columns grow)."""
    from fuserec.io import atomic_path

    rows = read_rows(csv_path)
    columns = list(rows[0].keys()) if rows else []
    new_columns = [k for k in row if k not in columns]
    if rows and not new_columns:
        line = _csv_line([row.get(c, "") for c in columns])
        with open(csv_path, "a", newline="") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        return
    columns += new_columns
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(csv_path) as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for r in rows + [row]:
                writer.writerow({c: r.get(c, "") for c in columns})


def _csv_line(values: list[Any]) -> str:
    import io

    buf = io.StringIO()
    csv.writer(buf).writerow(values)
    return buf.getvalue()


# ---------------------------------------------------------------------- the grid
def run_grid(grid: Grid, seeds: Iterable[int], out_dir: str | Path, csv_path: str | Path,
             threads: int = 1, cells: Sequence[str] | None = None, arms: Sequence[str] | None = None,
             progress: bool = True) -> list[dict[str, str]]:
    """Train every (cell, arm, seed) of ``grid`` missing from ``csv_path``; returns all rows.

    Seeds loop outermost (so that an interrupted grid has whole seeds done), then cells (the
    dataset is generated once per cell and seed), then arms.
    """
    import torch

    from fuserec.data.sources import load_dataset
    from fuserec.train.runner import resolve_config, train_run

    torch.set_num_threads(threads)
    out_dir, csv_path = Path(out_dir), Path(csv_path)
    done = {(r["cell"], r["variant"], str(r["seed"])) for r in read_rows(csv_path)}
    chosen_cells = [c for c in grid.cells if not cells or c.name in cells]
    chosen_arms = [a for a in grid.arms if not arms or a.name in arms]
    for seed in seeds:
        for cell in chosen_cells:
            todo = [a for a in chosen_arms if (cell.name, a.name, str(seed)) not in done]
            if not todo:
                continue
            dataset = None
            for arm in todo:
                raw = run_config(cell, arm, seed, threads)
                cfg = resolve_config(raw)
                if dataset is None:
                    dataset = load_dataset(cfg.dataset)
                run_dir = out_dir / grid.name / cell.name / f"{arm.name}-seed{seed}"
                if progress:
                    print(f"[{time.strftime('%H:%M:%S')}] {grid.name} {cell.name} {arm.name} seed {seed}",
                          file=sys.stderr, flush=True)
                start = time.perf_counter()
                result = train_run(cfg, run_dir, resume=True, dataset=dataset)
                seconds = time.perf_counter() - start
                if "roc_auc" not in result.test:
                    save_per_user(per_user_path(csv_path, cell.name, arm.name, seed),
                                  per_user_test_metrics(cfg, run_dir, dataset))
                row = result_row(cell, arm, seed, cfg, result, seconds)
                _append_row(csv_path, row)
                done.add((cell.name, arm.name, str(seed)))
                if progress:
                    shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
                             if k.startswith("test_") or k in ("best_epoch", "seconds")}
                    print(f"    {shown}", file=sys.stderr, flush=True)
    return read_rows(csv_path)


# ---------------------------------------------------------------------- per-user ranking values
PER_USER_KEYS = ("recall@20", "ndcg@20")


def per_user_path(csv_path: str | Path, cell: str, variant: str, seed: int) -> Path:
    """Where a ranking run's per-user test values live: beside the CSV, ``<csv stem>.per_user/``."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f"{csv_path.stem}.per_user") / cell / f"{variant}-seed{seed}.npz"


def per_user_test_metrics(cfg, run_dir: Path, dataset) -> dict[str, np.ndarray]:
    """Per-user test Recall/NDCG@20 of the run's best checkpoint: over all test targets; over the
    targets among items without a training interaction, ranked among all items (``cold_`` keys)
    and among those cold items only (``coldrank_`` keys, with ``coldrank_random_recall@20``, the
    expectation of a random order: 20 / the user's number of candidates); no cold keys without
    cold items."""
    from fuserec.train.runner import build_task, open_run

    model = open_run(run_dir, checkpoint="best", dataset=dataset).model
    task = build_task(cfg, dataset)
    arrays: dict[str, np.ndarray] = {}
    everyone = task.per_user(model, "test", ks=[20])
    arrays["users"] = everyone.users.astype(np.int32)
    arrays.update({k: everyone.metrics[k].astype(np.float32) for k in PER_USER_KEYS})
    cold_items = np.bincount(task.train.indices, minlength=task.train.shape[1]) == 0
    if cold_items.any():
        cold = task.per_user(model, "test", ks=[20], items=cold_items)
        arrays["cold_users"] = cold.users.astype(np.int32)
        arrays.update({f"cold_{k}": cold.metrics[k].astype(np.float32) for k in PER_USER_KEYS})
        among = task.per_user(model, "test", ks=[20], items=cold_items, candidates_only=True)
        arrays["coldrank_users"] = among.users.astype(np.int32)
        arrays.update({f"coldrank_{k}": among.metrics[k].astype(np.float32) for k in PER_USER_KEYS})
        # what a random order of the user's candidates scores in expectation: k / C_u
        _, exclude = task.targets("test")
        excluded_cold = 0 if exclude is None else np.asarray(exclude[among.users][:, cold_items].sum(axis=1)).ravel()
        candidates = cold_items.sum() - excluded_cold
        arrays["coldrank_random_recall@20"] = (np.minimum(20, candidates) / candidates).astype(np.float32)
    return arrays


def save_per_user(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` (.npz) atomically."""
    from fuserec.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def per_user_differences(csv_path: str | Path, cell: str, variant: str, baseline: str, metric: str
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paired per-user values of ``variant`` and ``baseline`` in ``cell`` over every seed both
    have: (a, b, seed of each user), users matched by index within a seed. ``metric`` is a key of
    :data:`PER_USER_KEYS`, or ``cold_`` / ``coldrank_`` + one (see :func:`per_user_test_metrics`)."""
    from fuserec.io import read_npz

    users_key = next((f"{p}users" for p in ("coldrank_", "cold_") if metric.startswith(p)), "users")
    folder = per_user_path(csv_path, cell, variant, 0).parent
    parts_a, parts_b, strata = [], [], []
    for file_a in sorted(folder.glob(f"{variant}-seed*.npz")):
        seed = int(file_a.stem.rsplit("-seed", 1)[1])
        file_b = folder / f"{baseline}-seed{seed}.npz"
        if not file_b.is_file():
            continue
        va, vb = read_npz(file_a), read_npz(file_b)
        if metric not in va or metric not in vb:
            continue
        common, ia, ib = np.intersect1d(va[users_key], vb[users_key], return_indices=True)
        parts_a.append(va[metric][ia])
        parts_b.append(vb[metric][ib])
        strata.append(np.full(len(common), seed))
    if not parts_a:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=int)
    return np.concatenate(parts_a), np.concatenate(parts_b), np.concatenate(strata)


def refresh_per_user(grid: Grid, csv_path: str | Path, out_dir: str | Path) -> int:
    """Recompute the per-user files of every ranking row of ``csv_path`` whose run directory is
    under ``out_dir`` (after the per-user metrics gained keys); returns how many were written."""
    import torch

    from fuserec.data.sources import load_dataset
    from fuserec.train.runner import resolve_config

    torch.set_num_threads(1)
    cells = {c.name: c for c in grid.cells}
    arms = {a.name: a for a in grid.arms}
    written = 0
    datasets: dict[tuple[str, int], Any] = {}      # the last (cell, seed)'s dataset only: one in memory
    for row in read_rows(csv_path):
        if "test_roc_auc" in row and row["test_roc_auc"] not in ("", None):
            continue
        cell, arm, seed = cells.get(row["cell"]), arms.get(row["variant"]), int(row["seed"])
        run_dir = Path(out_dir) / grid.name / row["cell"] / f"{row['variant']}-seed{seed}"
        if cell is None or arm is None or not (run_dir / "checkpoints" / "best.pt").is_file():
            continue
        cfg = resolve_config(run_config(cell, arm, seed))
        if (cell.name, seed) not in datasets:
            datasets = {(cell.name, seed): load_dataset(cfg.dataset)}
        save_per_user(per_user_path(csv_path, cell.name, arm.name, seed),
                      per_user_test_metrics(cfg, run_dir, datasets[(cell.name, seed)]))
        written += 1
    return written


# ---------------------------------------------------------------------- what the text knows
def text_probe(options: Mapping[str, Any], side: str = "user", seed: int = 0) -> float:
    """Held-out R² of a ridge probe from the MiniLM vector of each user's own text to the user's
    true taste (``side="user"``), or of each item's text to its attributes plus hidden quality
    (``side="item"``), on the synthetic world of ``options`` (see :mod:`fuserec.report.probe`)."""
    from fuserec.config import from_dict
    from fuserec.data.loaders import synthetic
    from fuserec.report.probe import linear_probe
    from fuserec.text.direct import entity_text_embeddings

    dataset = synthetic.load(None, from_dict(synthetic.Options, dict(options)))
    vectors = entity_text_embeddings(dataset, side)
    gt = dataset.ground_truth
    target = gt["user_taste"] if side == "user" else np.column_stack([gt["item_attributes"], gt["item_quality"]])
    return linear_probe(vectors, target, seed=seed).r2


# ---------------------------------------------------------------------- summaries
def summarise(rows: Sequence[Mapping[str, Any]], metric: str, baseline: str,
              confidence: float = 0.95) -> list[dict[str, Any]]:
    """Per (cell, variant): n, mean ± std of ``metric`` and the paired difference against
    ``baseline`` (same cell, same seeds) with its t-interval; best epochs and cap hits."""
    from fuserec.stats import paired_difference

    table: dict[tuple[str, str], dict[int, float]] = {}
    epochs: dict[tuple[str, str], list[int]] = {}
    capped: dict[tuple[str, str], int] = {}
    for r in rows:
        value = r.get(metric)
        if value in (None, ""):
            continue
        key = (r["cell"], r["variant"])
        table.setdefault(key, {})[int(r["seed"])] = float(value)
        if r.get("best_epoch") not in (None, ""):
            epochs.setdefault(key, []).append(int(float(r["best_epoch"])))
        capped[key] = capped.get(key, 0) + (str(r.get("peaked_at_cap")) == "True")
    out = []
    for (cell, variant), by_seed in table.items():
        values = np.array(list(by_seed.values()))
        entry = {"cell": cell, "variant": variant, "n": len(values), "mean": float(values.mean()),
                 "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
                 "best_epochs": sorted(epochs.get((cell, variant), [])), "at_cap": capped.get((cell, variant), 0)}
        base = table.get((cell, baseline))
        if base is not None and variant != baseline:
            common = sorted(set(base) & set(by_seed))
            mean, lo, hi = paired_difference([by_seed[s] for s in common], [base[s] for s in common], confidence)
            entry.update(baseline=baseline, n_pairs=len(common), delta=mean, lo=lo, hi=hi)
        out.append(entry)
    return out


def add_per_user_bootstrap(summary: Sequence[dict[str, Any]], csv_path: str | Path, metric: str,
                           baseline: str, confidence: float = 0.95) -> None:
    """Add to each entry of :func:`summarise` the per-user paired difference against ``baseline``
    (``boot_*``: mean over the users of every common seed, and a bootstrap interval resampling
    users within each seed; ``boot_users`` of them) from the per-user files beside ``csv_path``;
    ``metric`` is a :data:`PER_USER_KEYS` key or ``cold_`` / ``coldrank_`` + one."""
    from fuserec.stats import bootstrap_difference

    for entry in summary:
        if entry["variant"] == baseline:
            continue
        a, b, strata = per_user_differences(csv_path, entry["cell"], entry["variant"], baseline, metric)
        if len(a):
            mean, lo, hi = bootstrap_difference(a, b, confidence, strata=strata)
            entry.update(boot_metric=metric, boot_delta=mean, boot_lo=lo, boot_hi=hi, boot_users=len(a),
                         boot_seeds=len(np.unique(strata)))


def markdown_table(summary: Sequence[Mapping[str, Any]], metric: str, digits: int = 4) -> str:
    """A markdown table of :func:`summarise`'s output (with the per-user bootstrap column when
    :func:`add_per_user_bootstrap` filled it)."""
    def f(x):
        return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"

    boot = next((e["boot_metric"] for e in summary if "boot_metric" in e), None)
    head = f"| cell | variant | n | {metric} mean ± std | Δ vs baseline [95% CI over seeds] |"
    rule = "| :--- | :--- | ---: | ---: | ---: |"
    if boot:
        head += f" per-user Δ {boot} [95% bootstrap] (users) |"
        rule += " ---: |"
    lines = [head + " best epochs | at cap |", rule + " :--- | ---: |"]
    for e in summary:
        delta = (f"{e['delta']:+.{digits}f} [{f(e['lo'])}, {f(e['hi'])}] vs {e['baseline']}"
                 if "delta" in e else "–")
        line = f"| {e['cell']} | {e['variant']} | {e['n']} | {f(e['mean'])} ± {f(e['std'])} | {delta} |"
        if boot:
            line += (f" {e['boot_delta']:+.{digits}f} [{f(e['boot_lo'])}, {f(e['boot_hi'])}] ({e['boot_users']}) |"
                     if "boot_delta" in e else " – |")
        lines.append(line + f" {','.join(map(str, e['best_epochs']))} | {e['at_cap']} |")
    return "\n".join(lines)


def contrast_table(rows: Sequence[Mapping[str, Any]], contrasts: Sequence[tuple[str, str]], metric: str,
                   cells: Sequence[str] | None = None, digits: int = 4) -> str:
    """A markdown table with one row per cell and one column per (model, baseline) contrast: the
    paired Δ of ``metric`` and its 95% t-interval over the seeds both have (:func:`summarise`),
    with the number of pairs; "–" where a cell lacks either variant."""
    order = list(cells) if cells else list(dict.fromkeys(r["cell"] for r in rows))
    head = "| cell | " + " | ".join(f"{m} − {b}" for m, b in contrasts) + " |"
    lines = [head, "| :--- |" + " ---: |" * len(contrasts)]
    for cell in order:
        cell_rows = [r for r in rows if r["cell"] == cell]
        parts = []
        for model, baseline in contrasts:
            entry = next((e for e in summarise(cell_rows, metric, baseline) if e["variant"] == model), None)
            if entry is None or "delta" not in entry or entry["n_pairs"] == 0:
                parts.append("–")
                continue
            if np.isnan(entry["lo"]):
                parts.append(f"{entry['delta']:+.{digits}f} (n={entry['n_pairs']}, no interval)")
                continue
            mark = " **↑**" if entry["lo"] > 0 else (" **↓**" if entry["hi"] < 0 else "")
            parts.append(f"{entry['delta']:+.{digits}f} [{entry['lo']:+.{digits}f}, {entry['hi']:+.{digits}f}] "
                         f"(n={entry['n_pairs']}){mark}")
        lines.append(f"| {cell} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuserec.evidence", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train the missing runs of a grid, appending rows to a CSV")
    run.add_argument("grid", choices=sorted(GRIDS), help="which grid (see fuserec.evidence.GRIDS)")
    run.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (each varies data, split, text, init)")
    run.add_argument("--out", default="runs/evidence", help="root folder of the run directories")
    run.add_argument("--csv", default=None, help="results CSV (default docs/results/evidence/GRID.csv)")
    run.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    run.add_argument("--cells", nargs="*", help="only these cells")
    run.add_argument("--variants", nargs="*", help="only these variants")
    refresh = sub.add_parser("per-user", help="recompute the per-user files of a grid's finished ranking runs")
    refresh.add_argument("grid", choices=sorted(GRIDS), help="which grid")
    refresh.add_argument("--out", default="runs/evidence", help="root folder of the run directories")
    refresh.add_argument("--csv", default=None, help="results CSV (default docs/results/evidence/GRID.csv)")
    summ = sub.add_parser("summary", help="print mean ± std and paired Δ tables of a results CSV")
    summ.add_argument("csv", nargs="+", help="results CSV file(s)")
    summ.add_argument("--metric", default="test_roc_auc", help="column to summarise")
    summ.add_argument("--baseline", nargs="+", default=["two_step"],
                      help="variant(s) the paired differences are taken against (one table each)")
    summ.add_argument("--contrasts", nargs="+", metavar="MODEL:BASELINE",
                      help="instead of per-variant tables, one table of paired differences: a row per cell, a "
                           "column per contrast (↑ / ↓: the 95%% interval excludes 0)")
    summ.add_argument("--cells", nargs="+", help="only these cells (with --contrasts: in this order)")
    summ.add_argument("--per-user", default=None, metavar="KEY",
                      help="add a per-user bootstrap column from the ranking runs' per-user files beside the "
                           "first CSV: recall@20, ndcg@20; cold_recall@20 / cold_ndcg@20 (targets among "
                           "items without training interactions, ranked among all items); coldrank_recall@20 / "
                           "coldrank_ndcg@20 (the same targets ranked among those cold items only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "run":
        csv_path = args.csv or f"docs/results/evidence/{args.grid}.csv"
        run_grid(GRIDS[args.grid], range(args.seeds), args.out, csv_path, args.threads, args.cells, args.variants)
        return 0
    if args.command == "per-user":
        csv_path = args.csv or f"docs/results/evidence/{args.grid}.csv"
        print(f"{refresh_per_user(GRIDS[args.grid], csv_path, args.out)} per-user files written")
        return 0
    rows = [r for path in args.csv for r in read_rows(path)]
    if args.cells:
        rows = [r for r in rows if r["cell"] in args.cells]
    if args.contrasts:
        pairs = []
        for text in args.contrasts:
            model, sep, baseline = text.partition(":")
            if not sep or not model or not baseline:
                parser.error(f"--contrasts takes MODEL:BASELINE, got {text!r}")
            pairs.append((model, baseline))
        print(contrast_table(rows, pairs, args.metric, args.cells))
        return 0
    for baseline in args.baseline:
        summary = summarise(rows, args.metric, baseline)
        if args.per_user:
            add_per_user_bootstrap(summary, args.csv[0], args.per_user, baseline)
        print(f"\nPaired against `{baseline}` ({args.metric}):\n")
        print(markdown_table(summary, args.metric))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
