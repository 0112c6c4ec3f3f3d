"""The main job on the built-in synthetic restaurant world, end to end (``fuserec demo``).

Six steps, each an existing library call; every output lands under ``out_dir``:

1. the synthetic world (:func:`fuserec.data.sources.load_dataset`, seeded) and its summary;
2. template user / item profiles encoded with all-MiniLM-L6-v2
   (:func:`fuserec.text.api.text_embeddings`, cache in ``out_dir/cache``); the vectors are also
   written as ``out_dir/vectors/{user,item}_profile.npy`` with id lists, which both models read as
   ``source: file`` semantic fields (so ``fuserec evaluate/recommend`` can reopen the runs);
3. SWING item-item and user-user neighbours (:func:`fuserec.graph.swing.swing_cached`, with the
   parameters ``dlrrec`` uses) and their coverage;
4. ``two_step`` (PCA first, frozen) and ``dlrrec`` (co-trained reduction + SwING-InfoNCE), same
   seed and epochs, each trained by the one Trainer (:func:`fuserec.train.runner.train_run`) into
   ``out_dir/<model>``;
5. the test metrics side by side and one user's top-10 (:func:`fuserec.train.recommend.recommend`);
6. ``out_dir/report.md`` with the tables, a metrics bar chart and each run's training curves.

A re-run with the same ``out_dir`` reuses the text and SWING caches; the models are retrained.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fuserec.data.dataset import Dataset
from fuserec.errors import ConfigError

#: models compared by the demo, in table order
MODELS = ("two_step", "dlrrec")

#: sizes of the world (options of the synthetic loader). ``demo`` fits the demo's 3-5 minutes on
#: 2 CPU cores: encoding one profile with MiniLM costs about 0.1 s there (150-190 tokens), so the
#: loader's default size (``full``: 3,000 users, 600 restaurants) spends 5-6 minutes on text alone.
WORLDS = {
    "quick": {"n_users": 80, "n_items": 40, "n_reviews": 800},
    "demo": {"n_users": 1000, "n_items": 250, "n_reviews": 20000},
    "full": {},
}

DEFAULT_EPOCHS = 8
QUICK_EPOCHS = 2

#: (label, key in the test metrics) of the side-by-side table
TABLE_ROWS = (
    ("accuracy @0.5", "accuracy"),
    ("FPR @0.5", "fpr"),
    ("accuracy @valid-chosen threshold", "tuned_accuracy"),
    ("FPR @valid-chosen threshold", "tuned_fpr"),
    ("valid-chosen threshold (probability)", "tuned_threshold"),
    ("ROC-AUC", "roc_auc"),
    ("PR-AUC", "pr_auc"),
    ("log-loss", "log_loss"),
    ("GAUC", "gauc"),
)

#: metrics of the bar chart (all on a 0-1 scale)
CHART_METRICS = ("accuracy", "tuned_accuracy", "fpr", "tuned_fpr", "roc_auc", "pr_auc")


@dataclass
class RecommendedItem:
    rank: int
    item: str           # raw id
    score: float
    description: str    # cuisine, price, city and the restaurant's description
    liked_in_test: bool  # the user rated it >= the label threshold in the test split


@dataclass
class DemoResult:
    """What :func:`run_demo` produced.

    test: model -> its test metrics (``metrics.json``'s ``test``).
    table: the side-by-side metrics table (Markdown).
    user: the raw id whose recommendations are shown; recommendations: its top-10 (dlrrec).
    hits: model -> how many of its top-10 the user rated highly in the test split.
    seconds: step name -> wall seconds.
    """

    out_dir: Path
    dataset: Dataset
    run_dirs: dict[str, Path]
    test: dict[str, dict[str, float]]
    table: str
    user: str
    recommendations: list[RecommendedItem]
    hits: dict[str, int]
    report: Path
    seconds: dict[str, float] = field(default_factory=dict)


def dataset_config(seed: int, world: str) -> dict[str, Any]:
    """The ``dataset:`` section of the demo's runs: the synthetic world of size ``world`` (:data:`WORLDS`)."""
    if world not in WORLDS:
        raise ConfigError(f"unknown world size {world!r}; allowed: {', '.join(WORLDS)}", "world")
    return {"format": "synthetic", "name": f"synthetic-{world}-{seed}", "options": {"seed": seed, **WORLDS[world]}}


def model_config(name: str, seed: int, vectors: dict[str, tuple[Path, Path]], world: str) -> dict[str, Any]:
    """The ``model:`` section: the user and item profile vectors as ``source: file`` semantic fields
    (d = 16 in the quick world, whose ~40 restaurants are too few for a 32-d PCA)."""
    semantic = [{"name": f"{side}_text", "side": side, "source": "file", "path": str(path), "ids_path": str(ids)}
                for side, (path, ids) in vectors.items()]
    return {"name": name, "seed": seed, "dim": 16 if world == "quick" else 32, "semantic": semantic}


def train_config(seed: int, epochs: int, world: str) -> dict[str, Any]:
    """The ``train:`` section: Adam, early stopping on validation ROC-AUC."""
    return {"epochs": epochs, "seed": seed, "lr": 3e-3, "batch_size": 256 if world == "quick" else 1024,
            "patience": 3, "device": "cpu", "progress": world != "quick"}


class _Steps:
    """Numbered progress lines with wall times."""

    def __init__(self, log: Callable[[str], None], total: int):
        self.log, self.total, self.k = log, total, 0
        self.seconds: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        self.k += 1
        self.log(f"[{self.k}/{self.total}] {name} ...")
        start = time.perf_counter()
        out = fn()
        self.seconds[name] = time.perf_counter() - start
        self.log(f"[{self.k}/{self.total}] {name}: done in {self.seconds[name]:.1f} s")
        return out


def run_demo(out_dir: str | Path = "runs/demo-0", seed: int = 0, quick: bool = False, epochs: int | None = None,
             log: Callable[[str], None] = print, world: str | None = None) -> DemoResult:
    """Run the whole pipeline on the synthetic world into ``out_dir`` (see the module docstring).

    Args:
        out_dir: folder of everything the demo writes (caches, vectors, runs, report).
        seed: seed of the world, the SWING sampling, the models and training.
        quick: a much smaller world and fewer epochs (for tests).
        epochs: training epochs of each model (default 8, or 2 with ``quick``).
        log: receives the progress lines and the printed results.
        world: size of the world, a key of :data:`WORLDS` (default ``quick`` with ``quick``, else ``demo``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    epochs = epochs if epochs is not None else (QUICK_EPOCHS if quick else DEFAULT_EPOCHS)
    world = world or ("quick" if quick else "demo")
    dataset_config(seed, world)  # validates ``world`` before any work
    steps = _Steps(log, 6)
    total_start = time.perf_counter()

    dataset = steps.run("synthetic restaurant world", lambda: _world(seed, world, log))
    vectors = steps.run("user and item profiles (template) -> all-MiniLM-L6-v2",
                        lambda: _profiles(dataset, out, log))
    swing_lines = steps.run("SWING item-item and user-user neighbours", lambda: _swing(dataset, out, seed, log))
    run_dirs, test = steps.run(f"train {' and '.join(MODELS)} ({epochs} epochs each)",
                               lambda: _train(dataset, out, seed, world, epochs, vectors, log))
    table, user, recs, hits = steps.run("test metrics and recommendations",
                                        lambda: _results(dataset, run_dirs, test, log))
    report = steps.run("report", lambda: _report(out, dataset, run_dirs, test, table, user, recs, hits, seed,
                                                 world, epochs, steps.seconds, swing_lines))
    log(f"report: {report}")
    seconds = dict(steps.seconds, total=time.perf_counter() - total_start)
    log(f"demo finished in {seconds['total']:.1f} s; outputs in {out}")
    return DemoResult(out, dataset, run_dirs, test, table, user, recs, hits, report, seconds)


# ---------------------------------------------------------------------- the steps
def _world(seed: int, world: str, log: Callable[[str], None]) -> Dataset:
    from fuserec.data.info import format_summary, summarize
    from fuserec.data.sources import load_dataset

    dataset = load_dataset(dataset_config(seed, world))
    log(format_summary(summarize(dataset)))
    return dataset


def _profiles(dataset: Dataset, out: Path, log: Callable[[str], None]) -> dict[str, tuple[Path, Path]]:
    """Generate and encode both sides' profiles (cached); write them as vector files for the models."""
    from fuserec.io import atomic_write_json, atomic_write_with
    from fuserec.text.api import text_embeddings
    from fuserec.text.encode import SentenceEncoder
    from fuserec.text.generate import generate_texts

    cache = out / "cache"
    encoder = SentenceEncoder(show_progress=True)
    files: dict[str, tuple[Path, Path]] = {}
    example = {"user": _demo_user(dataset), "item": _most_popular_item(dataset)}
    for side in ("user", "item"):
        start = time.perf_counter()
        table = generate_texts(dataset, "profile", side, "template", cache_dir=cache, progress=False)
        matrix = text_embeddings(dataset, "profile", side, backend="template", encoder=encoder, cache_dir=cache)
        ids = dataset.user_ids if side == "user" else dataset.item_ids
        path, ids_path = out / "vectors" / f"{side}_profile.npy", out / "vectors" / f"{side}_ids.json"
        atomic_write_with(path, lambda tmp, m=matrix: _save_npy(tmp, m))
        atomic_write_json(ids_path, [str(x) for x in ids])
        files[side] = (path.resolve(), ids_path.resolve())
        cached = "from cache" if table.generated == 0 else f"{table.generated} generated"
        log(f"  {side} profiles: {len(ids)} texts ({cached}), vectors {matrix.shape[0]} x {matrix.shape[1]}, "
            f"{time.perf_counter() - start:.1f} s")
        k = example[side]
        text = table.records[k].get("text", "")
        log(f"  {side} {ids[k]} profile: {text}")
    return files


def _save_npy(path: Path, matrix: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.asarray(matrix, dtype=np.float32), allow_pickle=False)


def _swing(dataset: Dataset, out: Path, seed: int, log: Callable[[str], None]) -> list[str]:
    """SWING of both sides with the parameters of ``dlrrec``'s defaults (the neighbours it samples)."""
    from fuserec.graph.swing import swing_cached
    from fuserec.models.dlrm.variants import DLRRECConfig

    cfg = DLRRECConfig(seed=seed)
    lines = []
    for side in ("item", "user"):
        params = cfg.swing_params(side)
        start = time.perf_counter()
        result = swing_cached(dataset, params, out / "swing" / f"{side}_{side}.npz")
        degrees = np.asarray(result.degrees)
        has = degrees > 0
        lines.append(f"{side}-{side}: {100 * result.coverage():.1f}% of {result.n_nodes} {side}s have neighbours "
                     f"(top-{params.topk}; mean {degrees[has].mean() if has.any() else 0:.1f} per covered {side})")
        log(f"  {lines[-1]}, {'from cache' if result.from_cache else 'computed'} in "
            f"{time.perf_counter() - start:.2f} s")
    return lines


def _train(dataset: Dataset, out: Path, seed: int, world: str, epochs: int,
           vectors: dict[str, tuple[Path, Path]], log: Callable[[str], None]
           ) -> tuple[dict[str, Path], dict[str, dict[str, float]]]:
    from fuserec.train.runner import resolve_config, train_run

    run_dirs, test = {}, {}
    for name in MODELS:
        config = resolve_config({"dataset": dataset_config(seed, world),
                                 "model": model_config(name, seed, vectors, world),
                                 "train": train_config(seed, epochs, world)})
        run_dir = out / name
        start = time.perf_counter()
        result = train_run(config, run_dir, dataset=dataset)
        run_dirs[name], test[name] = run_dir, result.test
        log(f"  {name}: {result.epochs_run} epochs (best {result.best_epoch}), test ROC-AUC "
            f"{result.test.get('roc_auc', float('nan')):.4f}, {time.perf_counter() - start:.1f} s -> {run_dir}")
    return run_dirs, test


def _results(dataset: Dataset, run_dirs: dict[str, Path], test: dict[str, dict[str, float]],
             log: Callable[[str], None]) -> tuple[str, str, list[RecommendedItem], dict[str, int]]:
    from fuserec.train.recommend import recommend
    from fuserec.train.runner import open_run

    table = metrics_table(test)
    log("test metrics (at the best validation epoch):")
    log(table)
    k_user = _demo_user(dataset)
    user = str(dataset.user_ids[k_user])
    liked = liked_in_test(dataset, k_user)
    recs: list[RecommendedItem] = []
    hits: dict[str, int] = {}
    for name in MODELS:
        model = open_run(run_dirs[name], dataset=dataset).model
        rec = recommend(model, dataset, user, k=10)
        hits[name] = sum(dataset.item_of(i) in liked for i in rec.items)
        if name == MODELS[-1]:
            recs = [RecommendedItem(r + 1, item, score, describe_item(dataset, dataset.item_of(item)),
                                    dataset.item_of(item) in liked)
                    for r, (item, score) in enumerate(zip(rec.items, rec.scores))]
    log(f"top-10 of user {user} by {MODELS[-1]} ({len(liked)} restaurants rated >= "
        f"{dataset.label_threshold():g} in the test split, marked *):")
    log(recommendations_text(recs))
    log("  test hits in the top-10: " + ", ".join(f"{m} {h}" for m, h in hits.items()))
    return table, user, recs, hits


def _report(out: Path, dataset: Dataset, run_dirs: dict[str, Path], test: dict[str, dict[str, float]], table: str,
            user: str, recs: list[RecommendedItem], hits: dict[str, int], seed: int, world: str, epochs: int,
            seconds: dict[str, float], swing_lines: list[str]) -> Path:
    from fuserec.data.info import format_summary, summarize
    from fuserec.report.markdown import Section, write_markdown_report
    from fuserec.report.plots import bar_chart
    from fuserec.report.tables import aggregate

    summary = aggregate([{"model": m, **test[m]} for m in MODELS], group="model", metrics=list(CHART_METRICS))
    chart = bar_chart(out / "plots" / "test_metrics.png", summary, title="test metrics", ylabel="value")
    curves = [p for m in MODELS for p in (run_dirs[m] / "plots" / "loss.png", run_dirs[m] / "plots" / "metrics.png")
              if p.is_file()]
    timing = ", ".join(f"{k}: {v:.1f} s" for k, v in seconds.items())
    sections = [
        Section("Dataset", f"The synthetic restaurant world, seed {seed}, size `{world}` "
                           f"({WORLDS[world] or 'the loader defaults'}).\n\n"
                           f"```\n{format_summary(summarize(dataset))}\n```"),
        Section("SWING neighbours", "On the training split's positive interactions, with dlrrec's "
                "parameters (the neighbours its SwING-InfoNCE samples):\n\n" + "\n".join(f"- {x}" for x in swing_lines)),
        Section("Test metrics",
                f"`two_step` reduces the MiniLM profile vectors by a frozen PCA before training; `dlrrec` "
                f"trains the reduction with the BCE loss plus SwING-InfoNCE. Same seed ({seed}), "
                f"{epochs} epochs at most, early stopping on validation ROC-AUC; test metrics at the best "
                f"validation epoch. Run directories: " + ", ".join(f"`{_relative(run_dirs[m], out)}/`" for m in MODELS) + ".\n\n" + table,
                images=[chart]),
        Section(f"Top-10 of user {user} ({MODELS[-1]})",
                "`*`: rated at or above the label threshold in the test split. Test hits in the top-10: "
                + ", ".join(f"{m} {h}" for m, h in hits.items()) + ".",
                table=(["rank", "item", "score", "liked in test", "restaurant"],
                       [[r.rank, r.item, f"{r.score:.3f}", "*" if r.liked_in_test else "", r.description]
                        for r in recs])),
        Section("Training curves", "Loss and validation metrics per epoch of each run.", images=curves),
        Section("Timings", timing),
    ]
    return write_markdown_report(out / "report.md", "fuserec demo: two_step vs dlrrec on the synthetic world",
                                 sections)


# ---------------------------------------------------------------------- small helpers
def metrics_table(test: dict[str, dict[str, float]]) -> str:
    """Markdown table: one row per metric of :data:`TABLE_ROWS`, one column per model."""
    from fuserec.report.tables import format_number, markdown_table

    models = list(test)
    rows = [[label, *(format_number(float(test[m].get(key, float("nan")))) for m in models)]
            for label, key in TABLE_ROWS]
    return markdown_table(["test metric", *models], rows, ["l"] + ["r"] * len(models)).rstrip("\n")


def recommendations_text(recs: list[RecommendedItem]) -> str:
    return "\n".join(f"  {r.rank:>2}. {'*' if r.liked_in_test else ' '} {r.item}  {r.score:+.3f}  {r.description}"
                     for r in recs)


def _demo_user(dataset: Dataset) -> int:
    """The user with the most test positives among users with training interactions (lowest index on ties)."""
    test = dataset.split_frame("test")
    threshold = dataset.label_threshold()
    liked = test[test["rating"] >= threshold] if threshold is not None else test
    counts = np.bincount(liked["user"].to_numpy(np.int64), minlength=dataset.n_users)
    train = dataset.csr("train")
    counts[np.diff(train.indptr) == 0] = -1
    return int(np.argmax(counts))


def _most_popular_item(dataset: Dataset) -> int:
    return int(np.argmax(np.diff(dataset.csr("train").tocsc().indptr)))


def liked_in_test(dataset: Dataset, user: int) -> set[int]:
    """Items (indices) ``user`` rated at or above the label threshold in the test split."""
    test = dataset.split_frame("test")
    rows = test[test["user"].to_numpy() == user]
    threshold = dataset.label_threshold()
    if threshold is not None:
        rows = rows[rows["rating"].to_numpy() >= threshold]
    return set(int(i) for i in rows["item"].to_numpy())


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def describe_item(dataset: Dataset, item: int) -> str:
    """``cuisine / price / city: description`` (the one rule, :func:`fuserec.data.describe.describe_item`,
    with the whole text and no cut)."""
    from fuserec.data.describe import describe_item as describe

    return describe(dataset, item, width=None, full_text=True)
