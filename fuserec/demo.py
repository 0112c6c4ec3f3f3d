"""The main job on the built-in synthetic restaurant world, end to end (``fuserec demo``).

The world is the papers' setting: sparse users (5 reviews each on average, 2 at least) whose
bios, and restaurants whose descriptions, state their true tastes and attributes as sentences
with noise (``text_informativeness`` 1, ``text_nuisance`` 0.2: :data:`WORLD_OPTIONS`). The text
models read each entity's own text (:data:`fuserec.evidence.OWN_TEXT_FIELDS`, ``source:
metadata``; IRLLRec: ``profile_source`` / ``intent_source: metadata``).

Stages, each an existing library call, each cached by the content of its inputs
(:mod:`fuserec.stage_cache` and the vector cache in ``out_dir/cache``; a re-run with nothing
changed reads every stage back):

1. the synthetic worlds, one per seed (seed ``s`` fixes the world, its texts and the split:
   :meth:`fuserec.evidence.Cell.dataset_config`); their settings and the first one's summary;
2. the all-MiniLM-L6-v2 vectors of every user's bio and every restaurant's description
   (:func:`fuserec.text.direct.entity_text_embeddings`, vector cache in ``out_dir/cache``);
3. SWING item-item and user-user neighbours of the first seed's world (for the report);
4. classification on every seed: ``dlrm`` (ids and side fields only), ``two_step`` (frozen PCA of
   the text vectors), ``dlrrec`` (co-trained reduction + SwING-InfoNCE) and ``dlrrec-shuffled``
   (dlrrec on the same vectors permuted across entities: the control), configured by
   :func:`fuserec.evidence.run_config` (early stopping on validation under a generous cap), each
   trained by the one Trainer into ``out_dir/runs/seed<S>/<name>``;
5. the verdict: mean ± std per model, best epochs, runs at the cap, and for dlrrec against
   two_step and dlrm (the shuffled control beside it) the paired Δ test ROC-AUC with its 95%
   interval over the seeds and, in plain words, whether dlrrec wins by more than the seed noise
   (:mod:`fuserec.report.verdict`);
6. ranking on the first seed: ``pop``, ``lightgcn`` and ``irllrec``;
7. evaluation: the first seed's ranking metrics side by side and one user's top-10;
8. ``out_dir/report.html`` and ``report.md`` (:func:`fuserec.report.runs_report.write_report`),
   the verdict first.

The worlds' sizes and seed counts live in :data:`WORLDS` (:data:`DEFAULT_WORLD` is what
``fuserec demo`` builds).
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fuserec.data.dataset import Dataset
from fuserec.data.loaders.synthetic import DEMO_OPTIONS
from fuserec.errors import ConfigError
from fuserec.evidence import DLRREC_ARMS, GRAPH_ARMS, SPARSE, Arm, Cell, run_config

# ---------------------------------------------------------------------- the demo's settings (one place)
#: options of the synthetic loader shared by every world of the demo: sparse users, informative own
#: texts with light nuisance (the evidence grids' ``inf1-sparse`` cell, smaller)
WORLD_OPTIONS: dict[str, Any] = {**{k: v for k, v in DEMO_OPTIONS.items() if k not in ("n_users", "n_items")},
                                 **SPARSE, "text_informativeness": 1.0, "text_nuisance": 0.2}
#: the worlds' sizes. ``demo`` is sized so that the first run (5 seeds) fits 4 minutes of one CPU
#: core: encoding one bio with MiniLM costs ~0.036 s of CPU there, a description ~0.017 s, and
#: every seed is a new world with new texts.
WORLDS: dict[str, dict[str, Any]] = {
    "quick": {"n_users": 80, "n_items": 40},
    "demo": {"n_users": 500, "n_items": 150},
    "full": {"n_users": 3000, "n_items": 400},   # the evidence grids' size
}
#: seeds of the classification comparison per world (the verdict needs at least 2; 5 for a claim)
SEEDS: dict[str, int] = {"quick": 2, "demo": 5, "full": 5}
#: the world ``fuserec demo`` builds when none is named
DEFAULT_WORLD = "demo"

#: classification models, in table order (each reads its own texts; the last is the control)
CLASSIFICATION: tuple[Arm, ...] = tuple(a for a in DLRREC_ARMS
                                        if a.name in ("dlrm", "two_step", "dlrrec", "dlrrec-shuffled"))
#: ranking models, in table order (first seed only)
RANKING: tuple[Arm, ...] = (Arm("pop", "pop"),) + tuple(a for a in GRAPH_ARMS if a.name in ("lightgcn", "irllrec"))
#: the baselines of the report's paired differences
BASELINES = {"pointwise": "two_step", "ranking": "lightgcn"}
#: the epoch cap of ``--quick`` (a smoke test: most runs peak at this cap, and the verdict names them)
QUICK_EPOCHS = 2

# kept for callers of the earlier demo
MODELS = tuple(a.name for a in CLASSIFICATION + RANKING)


@dataclass
class RecommendedItem:
    rank: int
    item: str           # raw id
    score: float
    description: str
    liked_in_test: bool  # among the user's test positives


@dataclass
class DemoResult:
    """What :func:`run_demo` produced.

    run_dirs: label -> run directory of the first seed (classification and ranking); test: label ->
    its test metrics. seed_run_dirs: (label, seed) -> run directory of every classification run.
    rows: one row per classification run (:mod:`fuserec.evidence`'s columns: ``variant``, ``seed``,
    ``best_epoch``, ``peaked_at_cap``, ``test_roc_auc``...); verdicts: the paired contrasts
    (:class:`fuserec.report.verdict.Verdict`); verdict_lines: the verdict as printed.
    cached: stage name -> whether it came from the cache.
    seconds: stage name -> wall seconds, plus ``total`` (the stages) and ``process`` (since the
    process started, imports included; Linux); cpu_seconds: user + sys of the whole process
    (children included); load: 1-minute load average at the start and at the end.
    """

    out_dir: Path
    dataset: Dataset
    seeds: list[int]
    settings: list[str]
    run_dirs: dict[str, Path]
    test: dict[str, dict[str, float]]
    seed_run_dirs: dict[tuple[str, int], Path]
    rows: list[dict[str, Any]]
    verdicts: list[Any]
    verdict_lines: list[str]
    user: str
    recommendations: list[RecommendedItem]
    report: Path
    report_md: Path
    cached: dict[str, bool] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def demo_cell(world: str) -> Cell:
    """The demo's dataset setting (an :class:`fuserec.evidence.Cell`): :data:`WORLD_OPTIONS` at the
    size of ``world`` (:data:`WORLDS`), split 60/20/20 at random."""
    if world not in WORLDS:
        raise ConfigError(f"unknown world {world!r}; allowed: {', '.join(WORLDS)}", "world")
    return Cell(f"demo-{world}", {**WORLD_OPTIONS, **WORLDS[world]})


def dataset_config(seed: int, world: str) -> dict[str, Any]:
    """The ``dataset:`` section of the demo's runs on seed ``seed`` (world, texts and split seeded)."""
    config = demo_cell(world).dataset_config(seed)
    config["name"] = f"synthetic-{world}-seed{seed}"   # one vector-cache entry per world and seed
    return config


def demo_run_config(arm: Arm, seed: int, world: str, epochs: int | None = None) -> dict[str, Any]:
    """The raw config of one run: :func:`fuserec.evidence.run_config` of the demo's cell (early
    stopping on validation under the evidence grids' cap; ``epochs`` replaces the cap)."""
    config = run_config(demo_cell(world), arm, seed)
    config["dataset"] = dataset_config(seed, world)
    if epochs is not None:
        config["train"]["epochs"] = epochs
    return config


def world_settings(world: str, seeds: list[int]) -> list[str]:
    """The world's settings in words (printed at the start, written in the report)."""
    o = {**WORLD_OPTIONS, **WORLDS[world]}
    return [
        f"World `{world}`: the synthetic restaurant world with {o['n_users']:,} users and {o['n_items']:,} "
        f"restaurants in {o['n_cities']} cities; sparse users ({o['reviews_per_user']:g} reviews per user on "
        f"average, at least {o['min_reviews_per_user']}); split 60/20/20 at random.",
        f"Own texts: every user's bio and every restaurant's description states each true taste / attribute "
        f"with probability {o['text_informativeness']:g} (`text_informativeness`), a stated fact is wrong with "
        f"probability {o.get('text_error_rate', 0.1):g}, and each of six boilerplate / off-topic slots is filled "
        f"with probability {o['text_nuisance']:g} (`text_nuisance`). The text models (two_step, dlrrec, "
        f"irllrec) read these own texts as all-MiniLM-L6-v2 vectors; dlrm reads ids and side fields only; "
        f"dlrrec-shuffled reads the same vectors permuted across users and across restaurants (the control).",
        f"Seeds {', '.join(map(str, seeds))}: each seed is a new world, new texts, a new split and a new "
        f"initialisation; classification on every seed, ranking on seed {seeds[0]}. Loader options: "
        + ", ".join(f"{k}={v}" for k, v in o.items()) + ".",
    ]


class _Stages:
    """Numbered progress lines: each stage says whether it came from the cache, and its wall time."""

    def __init__(self, log: Callable[[str], None], total: int):
        self.log, self.total, self.k = log, total, 0
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.cached: dict[str, bool] = {}

    def run(self, name: str, fn: Callable[[], tuple[Any, bool | None]]) -> Any:
        """``fn() -> (value, from_cache)`` (None: the stage has parts of both)."""
        self.k += 1
        self.log(f"[{self.k}/{self.total}] {name} ...")
        start, cpu = time.perf_counter(), _cpu_seconds()
        value, cached = fn()
        self.seconds[name] = time.perf_counter() - start
        self.cpu[name] = _cpu_seconds() - cpu
        self.cached[name] = bool(cached)
        how = "from cache" if cached else ("done" if cached is False else "done (partly from cache)")
        self.log(f"[{self.k}/{self.total}] {name}: {how} in {self.seconds[name]:.1f} s "
                 f"({self.cpu[name]:.1f} s CPU)")
        return value


def run_demo(out_dir: str | Path = "runs/demo-0", seed: int = 0, quick: bool = False, epochs: int | None = None,
             log: Callable[[str], None] = print, world: str | None = None, seeds: int | None = None) -> DemoResult:
    """Run the whole pipeline on the synthetic world into ``out_dir`` (see the module docstring).

    Args:
        out_dir: folder of everything the demo writes (caches, vectors, runs, report).
        seed: the first seed; seeds ``seed .. seed + seeds - 1`` each fix a world, its texts, the
            split, SWING sampling, the models' draws and training.
        quick: the ``quick`` world and 2 epochs (a smoke test).
        epochs: cap on each model's epochs (default: the evidence grids' caps, 150 for
            classification and 300 for ranking, with early stopping on validation; 2 with ``quick``).
        log: receives the progress lines and the printed results.
        world: a key of :data:`WORLDS` (default ``quick`` with ``quick``, else :data:`DEFAULT_WORLD`).
        seeds: number of seeds of the classification comparison (default :data:`SEEDS` of the world).
    """
    from fuserec.stage_cache import StageCache

    wall_start, load_start = time.perf_counter(), os.getloadavg()[0]
    out = Path(out_dir)
    world = world or ("quick" if quick else DEFAULT_WORLD)
    demo_cell(world)  # validates ``world`` before any work
    n_seeds = SEEDS[world] if seeds is None else seeds
    if n_seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {n_seeds}", "seeds")
    if epochs is None and quick:
        epochs = QUICK_EPOCHS
    out.mkdir(parents=True, exist_ok=True)
    seed_list = list(range(seed, seed + n_seeds))
    settings = world_settings(world, seed_list)
    for line in settings:
        log(line)
    cache = StageCache(out)
    stages = _Stages(log, 8)
    first = seed_list[0]

    datasets = stages.run(f"synthetic restaurant worlds ({n_seeds} seed{'s' if n_seeds > 1 else ''})",
                          lambda: (_worlds(seed_list, world, log), False))
    vectors = stages.run("own texts: all-MiniLM-L6-v2 vectors of every bio and description",
                         lambda: _vectors(datasets, out, cache, log))
    swing = stages.run(f"SWING item-item and user-user neighbours (seed {first})",
                       lambda: _swing(datasets[first], out, first, log))
    seed_run_dirs: dict[tuple[str, int], Path] = {}
    rows: list[dict[str, Any]] = []
    stages.run(f"classification: {', '.join(a.name for a in CLASSIFICATION)} on {n_seeds} seed(s)",
               lambda: _train_all([(arm, s) for s in seed_list for arm in CLASSIFICATION], datasets, vectors, world,
                                  epochs, out, cache, seed_run_dirs, rows, log))
    found, lines = stages.run("verdict", lambda: (_verdict(rows, log), False))
    stages.run(f"ranking: {', '.join(a.name for a in RANKING)} (seed {first})",
               lambda: _train_all([(arm, first) for arm in RANKING], datasets, vectors, world, epochs, out, cache,
                                  seed_run_dirs, [], log))
    run_dirs = {label: path for (label, s), path in seed_run_dirs.items() if s == first}
    test = {label: _read_test(path) for label, path in run_dirs.items()}
    dataset = datasets[first]
    user, recs = stages.run("evaluation", lambda: (_evaluate(dataset, run_dirs, log), False))
    html, md = stages.run("report", lambda: _report(out, dataset, run_dirs, swing, vectors[first], rows, settings,
                                                    first, world, cache, stages))
    seconds = dict(stages.seconds, total=time.perf_counter() - wall_start)
    process = _process_seconds()
    if process is not None:      # the whole process: imports (torch, sentence-transformers) included
        seconds["process"] = process
    cpu = _cpu_seconds()         # user + sys of the whole process so far, imports included
    load = (load_start, os.getloadavg()[0])
    log(f"report: {html}")
    from_cache = [name for name, c in stages.cached.items() if c]
    log(f"stages from cache: {', '.join(from_cache) if from_cache else 'none'}")
    wall = seconds.get("process", seconds["total"])
    log(f"demo finished in {wall:.1f} s wall, {cpu:.1f} s CPU (user + sys), counted from the start of the "
        f"process; load average {load[0]:.2f} at the start, {load[1]:.2f} at the end; outputs in {out}")
    return DemoResult(out, dataset, seed_list, settings, run_dirs, test, seed_run_dirs, rows, found, lines, user,
                      recs, html, md, stages.cached, seconds, cpu, load)


def _process_seconds() -> float | None:
    """Wall seconds since this process started (Linux ``/proc``), or None elsewhere."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _read_test(run_dir: Path) -> dict[str, float]:
    from fuserec.report.collect import read_metrics

    return (read_metrics(run_dir) or {}).get("test", {})


# ---------------------------------------------------------------------- the stages
def _worlds(seeds: list[int], world: str, log: Callable[[str], None]) -> dict[int, Dataset]:
    """One world per seed; the first one's summary and texts are printed."""
    from fuserec.data.info import format_summary, summarize
    from fuserec.data.sources import load_dataset

    datasets = {s: load_dataset(dataset_config(s, world)) for s in seeds}
    first = datasets[seeds[0]]
    log(format_summary(summarize(first)))
    degrees = np.diff(first.csr("train").indptr)
    log(f"  training interactions per user (seed {seeds[0]}): median {np.median(degrees):g}, "
        f"{100 * np.mean(degrees <= 2):.0f}% of users have at most 2")
    log(f"  user {first.user_ids[0]} bio: {first.user_text.iloc[0]}")
    k = _most_popular_item(first)
    log(f"  restaurant {first.item_ids[k]} description: {first.item_text.iloc[k]}")
    return datasets


def _vectors(datasets: dict[int, Dataset], out: Path, cache, log: Callable[[str], None]
             ) -> tuple[dict[int, dict[str, np.ndarray]], bool]:
    """``{seed: {"user": (n_users, 384), "item": (n_items, 384)}}``: the vectors of each entity's own
    text (vector cache in ``out/cache``), kept as ``out/vectors/seed<S>_{user,item}.npy``."""
    from fuserec.io import atomic_write_with, read_npy
    from fuserec.stage_cache import content_key
    from fuserec.text.direct import entity_text_embeddings
    from fuserec.text.encode import SentenceEncoder

    encoder = SentenceEncoder(show_progress=False)
    result, flags = {}, []
    for seed, dataset in datasets.items():
        files = {side: out / "vectors" / f"seed{seed}_{side}.npy" for side in ("user", "item")}
        key = content_key({"user": dataset.user_text.tolist(), "item": dataset.item_text.tolist(),
                           "encoder": encoder.key})

        def compute(dataset=dataset, files=files, seed=seed) -> dict:
            start = time.perf_counter()
            for side, path in files.items():
                matrix = entity_text_embeddings(dataset, side, encoder, cache_dir=out / "cache")
                atomic_write_with(path, lambda tmp, m=matrix: _save_npy(tmp, m))
            log(f"  seed {seed}: {dataset.n_users} bios and {dataset.n_items} descriptions encoded in "
                f"{time.perf_counter() - start:.1f} s")
            return {side: str(path) for side, path in files.items()}

        record, cached = cache.run(f"vectors seed {seed}", key, compute, lambda r: list(r.values()))
        if cached:
            log(f"  seed {seed}: vectors read back (key {key[:12]})")
        result[seed] = {side: read_npy(path) for side, path in record.items()}
        flags.append(cached)
    return result, (True if all(flags) else False if not any(flags) else None)


def _save_npy(path: Path, matrix: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.asarray(matrix, dtype=np.float32), allow_pickle=False)


def _swing(dataset: Dataset, out: Path, seed: int, log: Callable[[str], None]) -> tuple[dict[str, Any], bool]:
    """SWING of both sides with the parameters of ``dlrrec``'s defaults (the neighbours it samples)."""
    from fuserec.graph.swing import swing_cached
    from fuserec.models.dlrm.variants import DLRRECConfig

    cfg = DLRRECConfig(seed=seed)
    results, cached = {}, True
    for side in ("item", "user"):
        params = cfg.swing_params(side)
        result = swing_cached(dataset, params, out / "swing" / f"seed{seed}" / f"{side}_{side}.npz")
        degrees = np.asarray(result.degrees)
        has = degrees > 0
        log(f"  {side}-{side}: {100 * result.coverage():.1f}% of {result.n_nodes} {side}s have neighbours "
            f"(top-{params.topk}; mean {degrees[has].mean() if has.any() else 0:.1f} per covered {side}), "
            f"{'from cache' if result.from_cache else 'computed'}")
        results[f"{side}-{side}"] = result
        cached = cached and result.from_cache
    return results, cached


def _given_text(config, vectors: dict[str, np.ndarray], dataset: Dataset) -> dict[str, Any]:
    """The demo's own-text vectors as the precomputed inputs of the fields / sources that read
    ``metadata`` (``prepare_inputs``' ``semantic`` and ``text``): the same vectors the model would
    encode itself, taken from the demo's cache."""
    from fuserec.prepare.text import TextEmbeddings

    model = config.model
    semantic = {spec.name: vectors[spec.side] for spec in getattr(model, "semantic", []) or []
                if spec.source == "metadata"}
    text = {kind: TextEmbeddings.from_arrays(vectors["user"], vectors["item"], dataset, "metadata")
            for kind in ("profile", "intent") if getattr(model, f"{kind}_source", None) == "metadata"}
    return {"semantic": semantic, "text": text}


def _train_all(plan: list[tuple[Arm, int]], datasets: dict[int, Dataset], vectors: dict[int, dict[str, np.ndarray]],
               world: str, epochs: int | None, out: Path, cache, run_dirs: dict[tuple[str, int], Path],
               rows: list[dict[str, Any]], log: Callable[[str], None]) -> tuple[None, bool | None]:
    """Train every (arm, seed) of ``plan`` unless the stage cache has it; fills ``run_dirs`` and
    ``rows`` (:mod:`fuserec.evidence`'s result rows, with best epoch and ``peaked_at_cap``)."""
    from fuserec.evidence import result_row
    from fuserec.io import atomic_write_json
    from fuserec.models import get_model
    from fuserec.prepare import prepare_inputs
    from fuserec.report.collect import VARIANT_FILE, read_metrics
    from fuserec.stage_cache import content_key
    from fuserec.text.encode import SentenceEncoder
    from fuserec.train.runner import fit_run, resolve_config
    from fuserec.train.trainer import TrainResult

    encoder_key = SentenceEncoder(show_progress=False).key
    cell = demo_cell(world)
    flags = []
    for arm, seed in plan:
        config = resolve_config(demo_run_config(arm, seed, world, epochs))
        dataset = datasets[seed]
        run_dir = out / "runs" / f"seed{seed}" / arm.name
        key = content_key({"config": config.to_dict(), "label": arm.name, "encoder": encoder_key})

        def compute(config=config, run_dir=run_dir, arm=arm, seed=seed, dataset=dataset) -> dict:
            if run_dir.exists():
                shutil.rmtree(run_dir)   # a run of other inputs: start afresh
            start = time.perf_counter()
            given = _given_text(config, vectors[seed], dataset)
            inputs = prepare_inputs(dataset, get_model(config.model_name), config.model, cache_dir=out / "cache",
                                    **given)
            fit_run(config, run_dir, dataset=dataset, inputs=inputs)
            atomic_write_json(run_dir / VARIANT_FILE, {"variant": arm.name, "model": config.model_name,
                                                       "seed": config.train.seed,
                                                       "seconds": time.perf_counter() - start})
            return {"run_dir": str(run_dir), "seconds": time.perf_counter() - start}

        record, cached = cache.run(f"train {arm.name} seed {seed}", key, compute,
                                   lambda r: [Path(r["run_dir"]) / "metrics.json", Path(r["run_dir"]) / VARIANT_FILE])
        metrics = read_metrics(record["run_dir"]) or {}
        run_dirs[(arm.name, seed)] = Path(record["run_dir"])
        best = (metrics.get("best") or {}).get("epoch")
        result = TrainResult(metrics, int(metrics.get("epochs_run") or 0), best, bool(metrics.get("stopped_early")),
                             metrics.get("test") or {})
        row = result_row(cell, arm, seed, config, result, float(record["seconds"]))
        rows.append(row)
        monitor = metrics.get("monitor", "")
        value = result.test.get(monitor.split("/")[-1], float("nan")) if monitor else float("nan")
        if result.epochs_run == 0:      # pop: nothing to train, so no cap to sit at
            row["peaked_at_cap"] = False
            how = "fitted" if not cached else "from cache"
        else:
            how = (f"{'from cache' if cached else 'trained'}, {result.epochs_run} epochs (best {best}"
                   f"{', stopped early' if result.stopped_early else ''}"
                   f"{', AT THE CAP' if row['peaked_at_cap'] else ''})")
        log(f"  seed {seed} {arm.name}: {how}, test {monitor} {value:.4f}, {record['seconds']:.1f} s")
        flags.append(cached)
    return None, (True if all(flags) else False if not any(flags) else None)


def _verdict(rows: list[dict[str, Any]], log: Callable[[str], None]) -> tuple[list[Any], list[str]]:
    """Print and return the verdicts (:func:`fuserec.report.verdict.verdicts`) and their lines."""
    from fuserec.report.verdict import verdict_lines, verdicts

    lines = verdict_lines(rows)
    for line in lines:
        log(line)
    return verdicts(rows), lines


def _evaluate(dataset: Dataset, run_dirs: dict[str, Path], log: Callable[[str], None]
              ) -> tuple[str, list[RecommendedItem]]:
    """Print the first seed's ranking comparison (with the popularity row) and one user's top-10 by irllrec."""
    from fuserec.report.compare import build_comparison, comparison_table
    from fuserec.report.metric_info import model_label
    from fuserec.report.runs_report import TASK_METRICS, item_name, liked_in_test, read_run, sample_users
    from fuserec.report.tables import markdown_table
    from fuserec.train.recommend import recommend
    from fuserec.train.runner import open_run

    recs = [r for r in (read_run(d) for d in run_dirs.values()) if r.task == "ranking"]
    metrics = [f"test_{m}" for m in TASK_METRICS["ranking"] if any(f"test_{m}" in r.row() for r in recs)]
    comp = build_comparison([r.row() for r in recs], metrics, {})
    table = comparison_table(comp, dataset.name, {g: model_label(g) for g in comp.labels})
    log(f"ranking on {dataset.name} (test split, all items ranked, one seed); ↑ higher is better, * best:")
    rows = [[c + ("*" if (r, j) in table.bold else "") for j, c in enumerate(row)][1:]
            for r, row in enumerate(table.rows)]
    log(markdown_table(table.headers[1:], rows, ["l"] + ["r"] * (len(table.headers) - 2)).rstrip("\n"))
    user = sample_users(dataset, 1)[0]
    raw = str(dataset.user_ids[user])
    liked = liked_in_test(dataset, user)
    model = open_run(run_dirs["irllrec"], dataset=dataset).model
    rec = recommend(model, dataset, raw, k=10)
    found = [RecommendedItem(r + 1, item, score, item_name(dataset, dataset.item_of(item)),
                             dataset.item_of(item) in liked)
             for r, (item, score) in enumerate(zip(rec.items, rec.scores))]
    log(f"user {raw}'s bio: {dataset.user_text.iloc[user]}")
    log(f"top-10 of user {raw} by IRLLRec ({len(liked)} test positives, marked *; "
        f"{sum(r.liked_in_test for r in found)} in the top-10):")
    log("\n".join(f"  {r.rank:>2}. {'*' if r.liked_in_test else ' '} {r.item}  {r.score:+.3f}  {r.description}"
                  for r in found))
    return raw, found


def _report(out: Path, dataset: Dataset, run_dirs: dict[str, Path], swing: dict[str, Any],
            vectors: dict[str, np.ndarray], rows: list[dict[str, Any]], settings: list[str], seed: int, world: str,
            cache, stages: _Stages) -> tuple[tuple[Path, Path], bool]:
    import fuserec.report.compare
    import fuserec.report.document
    import fuserec.report.plots
    import fuserec.report.runs_report
    import fuserec.report.verdict
    from fuserec.report.runs_report import DatasetExtras, write_report
    from fuserec.report.verdict import verdict_section
    from fuserec.stage_cache import content_key, source_key

    run_files = [Path(d) / name for d in run_dirs.values() for name in ("metrics.json", "curves.csv")]
    code = source_key(fuserec.report.runs_report, fuserec.report.compare, fuserec.report.document,
                      fuserec.report.plots, fuserec.report.verdict, __import__(__name__))
    key = content_key({"runs": {k: str(v) for k, v in run_dirs.items()}, "code": code, "world": world,
                       "seed": seed, "rows": rows, "settings": settings}, files=run_files)

    def compute() -> dict:
        notes = [f"Seed {seed} of the world `{world}`: every classification and ranking run of this seed. The "
                 "shuffled-text control is DLRREC trained on the same own-text vectors permuted across users and "
                 "across restaurants: whatever DLRREC gains over it comes from the link between an entity and "
                 "its own text."]
        user_texts = {"Bio": [str(t) for t in dataset.user_text.tolist()]}
        extras = {dataset.name: DatasetExtras(dataset, swing=swing, item_text_vectors=vectors["item"],
                                              text_cache=out / "cache", notes=notes, user_texts=user_texts)}
        timing = ", ".join(f"{name}: {s:.1f} s" for name, s in stages.seconds.items())
        intro = [f"`fuserec demo` (world `{world}`, seeds from {seed}): the verdict first (classification on "
                 f"every seed, paired by seed), then seed {seed}'s runs in detail (one run per model there, n = 1). "
                 f"Stage times of the run that wrote this report: {timing}."]
        result = write_report(list(run_dirs.values()), out, title="fuserec demo: does fusing text pay off on "
                              "the synthetic restaurant world?", baseline=BASELINES, extras=extras, intro=intro,
                              cache_dir=out / "cache", sections=[verdict_section(rows, settings)])
        return {"html": str(result.html), "md": str(result.markdown)}

    record, cached = cache.run("report", key, compute, lambda r: [r["html"], r["md"]])
    return (Path(record["html"]), Path(record["md"])), cached


def _most_popular_item(dataset: Dataset) -> int:
    return int(np.argmax(np.diff(dataset.csr("train").tocsc().indptr)))
