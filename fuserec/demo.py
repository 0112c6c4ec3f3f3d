"""The main job on the built-in synthetic restaurant world, end to end (``fuserec demo``).

Stages, each an existing library call, each cached by the content of its inputs
(:mod:`fuserec.stage_cache`; a re-run with nothing changed reads every stage back):

1. the synthetic world (:func:`fuserec.data.sources.load_dataset`; deterministic from its config,
   rebuilt each time: that takes about a second) and its summary;
2. template profile and intent texts of users and items (:func:`fuserec.text.generate.generate_texts`,
   cached in ``out_dir/cache``);
3. their all-MiniLM-L6-v2 vectors, written to ``out_dir/vectors/`` (keyed by the texts and the
   encoder), plus the shuffled-text control (:func:`fuserec.text.controls.apply_text_control`);
4. SWING item-item and user-user neighbours (:func:`fuserec.graph.swing.swing_cached`);
5. classification: ``dlrm`` (ids and side fields only), ``two_step`` (frozen PCA of the profile
   vectors), ``dlrrec`` (co-trained reduction + SwING-InfoNCE) and ``dlrrec-shuffled`` (dlrrec
   on user / item profile vectors permuted across entities: the control), each trained by the one
   Trainer into ``out_dir/runs/<name>`` (keyed by its resolved config and its vector files);
6. ranking: ``pop``, ``lightgcn`` and ``irllrec`` (profiles and intents from the same vectors);
7. evaluation: test metrics side by side per task (with the base-rate / popularity reference
   rows) and one user's top-10;
8. ``out_dir/report.html`` and ``report.md`` (:func:`fuserec.report.runs_report.write_report`).

The world's size and options live in :data:`WORLDS` (:data:`DEFAULT_WORLD` is what ``fuserec demo``
builds); the training budgets in :data:`CLASSIFICATION_TRAIN` / :data:`RANKING_TRAIN`.
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
from fuserec.errors import ConfigError

# ---------------------------------------------------------------------- the demo's settings (one place)
#: worlds of the demo: options of the synthetic loader. ``demo`` is sized so that the first run
#: fits 4 minutes on a quiet 2-core CPU (encoding one text with MiniLM costs ~0.1 s of CPU there,
#: and the demo encodes a profile and an intent per user and per restaurant).
WORLDS: dict[str, dict[str, Any]] = {
    "quick": {"n_users": 80, "n_items": 40, "n_reviews": 800},
    "demo": {"n_users": 300, "n_items": 100, "n_reviews": 6000},
    "full": {},   # the loader's defaults: 3,000 users, 600 restaurants, 60,000 reviews
}
#: the world ``fuserec demo`` builds when none is named
DEFAULT_WORLD = "demo"

#: classification models, in table order: (label, registered model, text control of its vectors)
CLASSIFICATION = (("dlrm", "dlrm", None), ("two_step", "two_step", "none"), ("dlrrec", "dlrrec", "none"),
                  ("dlrrec-shuffled", "dlrrec", "shuffled"))
#: ranking models, in table order
RANKING = ("pop", "lightgcn", "irllrec")
#: the baselines of the report's paired differences
BASELINES = {"pointwise": "two_step", "ranking": "lightgcn"}

#: training of the classification models: Adam, early stopping on validation ROC-AUC
CLASSIFICATION_TRAIN = {"epochs": 30, "lr": 3e-3, "batch_size": 1024, "patience": 3}
#: training of the ranking models: BPR, early stopping on validation Recall@20
RANKING_TRAIN = {"epochs": 60, "lr": 5e-3, "batch_size": 1024, "eval_every": 2, "patience": 3}
QUICK_EPOCHS = 2

# kept for callers of the earlier demo
MODELS = tuple(name for name, _, _ in CLASSIFICATION) + RANKING


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

    run_dirs: label -> run directory; test: label -> its test metrics.
    cached: stage name -> whether it came from the cache.
    seconds: stage name -> wall seconds, plus ``total`` (the stages) and ``process`` (since the
    process started, imports included; Linux); cpu_seconds: user + sys of the whole process
    (children included); load: 1-minute load average at the start and at the end.
    """

    out_dir: Path
    dataset: Dataset
    run_dirs: dict[str, Path]
    test: dict[str, dict[str, float]]
    user: str
    recommendations: list[RecommendedItem]
    report: Path
    report_md: Path
    cached: dict[str, bool] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def dataset_config(seed: int, world: str) -> dict[str, Any]:
    """The ``dataset:`` section of the demo's runs: the synthetic world ``world`` (:data:`WORLDS`)."""
    if world not in WORLDS:
        raise ConfigError(f"unknown world {world!r}; allowed: {', '.join(WORLDS)}", "world")
    return {"format": "synthetic", "name": f"synthetic-{world}-{seed}", "options": {"seed": seed, **WORLDS[world]}}


def classification_config(label: str, model: str, seed: int, world: str, epochs: int | None,
                          vectors: dict[str, dict[str, str]] | None, control: str | None) -> dict[str, Any]:
    """Config of one classification run; text models read the profile vectors as ``source: file``
    semantic fields (``control`` picks the plain or the shuffled files)."""
    model_cfg: dict[str, Any] = {"name": model, "seed": seed, "dim": 16 if world == "quick" else 32}
    if control is not None and vectors is not None:
        model_cfg["semantic"] = [{"name": f"{side}_text", "side": side, "source": "file",
                                  "path": vectors[control][f"{side}_profile"], "ids_path": vectors["ids"][side]}
                                 for side in ("user", "item")]
    return {"dataset": dataset_config(seed, world), "model": model_cfg,
            "train": _train_section(CLASSIFICATION_TRAIN, seed, world, epochs)}


def ranking_config(model: str, seed: int, world: str, epochs: int | None,
                   vectors: dict[str, dict[str, str]] | None) -> dict[str, Any]:
    """Config of one ranking run; ``irllrec`` reads profiles and intents from the demo's vector files."""
    model_cfg: dict[str, Any] = {"name": model}
    if model in ("lightgcn", "irllrec"):
        model_cfg["aggregation"] = "sum"   # IRLLRec's backbone, so LightGCN is exactly its backbone
    if model == "irllrec" and vectors is not None:
        model_cfg.update({"profile_source": vectors["none"]["profile_npz"],
                          "intent_source": vectors["none"]["intent_npz"], "text_mode": "batch"})
    return {"dataset": dataset_config(seed, world), "model": model_cfg,
            "train": _train_section(RANKING_TRAIN, seed, world, epochs)}


def _train_section(defaults: dict[str, Any], seed: int, world: str, epochs: int | None) -> dict[str, Any]:
    """``train:`` of a demo run: ``defaults`` with the seed, ``epochs`` as a cap, small batches in the quick world."""
    train = dict(defaults, seed=seed, device="cpu", progress=False)
    if epochs is not None:
        train["epochs"] = epochs
    if world == "quick":
        train["batch_size"] = 256
    return train


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
             log: Callable[[str], None] = print, world: str | None = None) -> DemoResult:
    """Run the whole pipeline on the synthetic world into ``out_dir`` (see the module docstring).

    Args:
        out_dir: folder of everything the demo writes (caches, vectors, runs, report).
        seed: seed of the world, the SWING sampling, the models and training.
        quick: the ``quick`` world and 2 epochs (for tests).
        epochs: cap on each model's epochs (default: :data:`CLASSIFICATION_TRAIN` /
            :data:`RANKING_TRAIN`, early stopping on validation; 2 with ``quick``).
        log: receives the progress lines and the printed results.
        world: a key of :data:`WORLDS` (default ``quick`` with ``quick``, else :data:`DEFAULT_WORLD`).
    """
    from fuserec.stage_cache import StageCache

    wall_start, load_start = time.perf_counter(), os.getloadavg()[0]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world = world or ("quick" if quick else DEFAULT_WORLD)
    dataset_config(seed, world)  # validates ``world`` before any work
    if epochs is None and quick:
        epochs = QUICK_EPOCHS
    cache = StageCache(out)
    stages = _Stages(log, 8)

    dataset = stages.run("synthetic restaurant world", lambda: (_world(seed, world, log), False))
    texts = stages.run("profile and intent texts (template)", lambda: _texts(dataset, out, log))
    vectors = stages.run("text vectors (all-MiniLM-L6-v2) and the shuffled-text control",
                         lambda: _vectors(dataset, texts, out, seed, cache, log))
    swing = stages.run("SWING item-item and user-user neighbours", lambda: _swing(dataset, out, seed, log))
    run_dirs: dict[str, Path] = {}
    test: dict[str, dict[str, float]] = {}
    stages.run("classification: " + ", ".join(n for n, _, _ in CLASSIFICATION),
               lambda: _train_all([(label, classification_config(label, model, seed, world, epochs, vectors, control))
                                   for label, model, control in CLASSIFICATION],
                                  dataset, out, cache, run_dirs, test, log))
    stages.run("ranking: " + ", ".join(RANKING),
               lambda: _train_all([(m, ranking_config(m, seed, world, epochs, vectors)) for m in RANKING],
                                  dataset, out, cache, run_dirs, test, log))
    user, recs = stages.run("evaluation", lambda: (_evaluate(dataset, run_dirs, log), False))
    html, md = stages.run("report", lambda: _report(out, dataset, run_dirs, swing, vectors, seed, world, cache,
                                                    stages, log))
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
    return DemoResult(out, dataset, run_dirs, test, user, recs, html, md, stages.cached, seconds, cpu, load)


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


# ---------------------------------------------------------------------- the stages
def _world(seed: int, world: str, log: Callable[[str], None]) -> Dataset:
    from fuserec.data.info import format_summary, summarize
    from fuserec.data.sources import load_dataset

    dataset = load_dataset(dataset_config(seed, world))
    log(format_summary(summarize(dataset)))
    return dataset


def _texts(dataset: Dataset, out: Path, log: Callable[[str], None]) -> tuple[dict[str, list[str]], bool]:
    """``{"user_profile": [...], "user_intent": ..., "item_profile": ..., "item_intent": ...}`` (template)."""
    from fuserec.text.generate import generate_texts

    texts, generated = {}, 0
    for side in ("user", "item"):
        for kind in ("profile", "intent"):
            table = generate_texts(dataset, kind, side, "template", cache_dir=out / "cache", progress=False)
            texts[f"{side}_{kind}"] = [str(r.get("text", "")) for r in table.records]
            generated += table.generated
            log(f"  {side} {kind}s: {len(table.ids)} texts "
                f"({'from cache' if table.generated == 0 else f'{table.generated} generated'})")
    k = _most_popular_item(dataset)
    log(f"  item {dataset.item_ids[k]} profile: {texts['item_profile'][k]}")
    return texts, generated == 0


def _vectors(dataset: Dataset, texts: dict[str, list[str]], out: Path, seed: int, cache, log: Callable[[str], None]
             ) -> tuple[dict[str, dict[str, str]], bool]:
    """Encode the four text sets (vector cache in ``out/cache``) and write the files the models read:
    ``vectors/{user,item}_{profile,intent}.npy`` (+ ``_shuffled``), the ids, and IRLLRec's ``.npz``."""
    from fuserec.stage_cache import content_key
    from fuserec.text.encode import SentenceEncoder

    encoder = SentenceEncoder(show_progress=True)
    vec_dir = out / "vectors"
    files = {"none": {}, "shuffled": {}, "ids": {side: str((vec_dir / f"{side}_ids.json").resolve())
                                                  for side in ("user", "item")}}
    for control in ("none", "shuffled"):
        suffix = "" if control == "none" else "_shuffled"
        for name in texts:
            files[control][name] = str((vec_dir / f"{name}{suffix}.npy").resolve())
        for kind in ("profile", "intent"):
            files[control][f"{kind}_npz"] = str((vec_dir / f"{kind}{suffix}.npz").resolve())
    key = content_key({"texts": texts, "encoder": encoder.key, "seed": seed, "controls": ["none", "shuffled"],
                       "files": files})

    def compute() -> dict:
        from fuserec.io import atomic_write_json, atomic_write_with
        from fuserec.text.api import embed_table
        from fuserec.text.controls import apply_text_control
        from fuserec.text.generate import generate_texts

        for side in ("user", "item"):
            ids = dataset.user_ids if side == "user" else dataset.item_ids
            atomic_write_json(files["ids"][side], [str(x) for x in ids])
        matrices = {}
        for name in texts:
            side, kind = name.split("_")
            start = time.perf_counter()
            table = generate_texts(dataset, kind, side, "template", cache_dir=out / "cache", progress=False)
            matrix, n_new = embed_table(dataset, table, encoder, out / "cache")
            matrices[name] = matrix
            log(f"  {name.replace('_', ' ')} vectors: {matrix.shape[0]} x {matrix.shape[1]} "
                f"({n_new} encoded now, {matrix.shape[0] - n_new} from the vector cache), "
                f"{time.perf_counter() - start:.1f} s")
        for control in ("none", "shuffled"):
            for name, matrix in matrices.items():
                # each side's vectors permuted across that side's entities (the shuffled-text control)
                m = apply_text_control(matrix, control, seed)
                atomic_write_with(Path(files[control][name]), lambda tmp, m=m: _save_npy(tmp, m))
            for kind in ("profile", "intent"):
                arrays = {side: apply_text_control(matrices[f"{side}_{kind}"], control, seed) for side in ("user", "item")}
                atomic_write_with(Path(files[control][f"{kind}_npz"]), lambda tmp, a=arrays: _save_npz(tmp, a))
        return files

    def outputs(result: dict) -> list[str]:
        return [p for group in result.values() for p in group.values()]

    result, cached = cache.run("vectors", key, compute, outputs)
    if cached:
        log(f"  {len(outputs(result))} vector files read back (key {key[:12]})")
    return result, cached


def _save_npy(path: Path, matrix: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.asarray(matrix, dtype=np.float32), allow_pickle=False)


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()})


def _swing(dataset: Dataset, out: Path, seed: int, log: Callable[[str], None]) -> tuple[dict[str, Any], bool]:
    """SWING of both sides with the parameters of ``dlrrec``'s defaults (the neighbours it samples)."""
    from fuserec.graph.swing import swing_cached
    from fuserec.models.dlrm.variants import DLRRECConfig

    cfg = DLRRECConfig(seed=seed)
    results, cached = {}, True
    for side in ("item", "user"):
        params = cfg.swing_params(side)
        result = swing_cached(dataset, params, out / "swing" / f"{side}_{side}.npz")
        degrees = np.asarray(result.degrees)
        has = degrees > 0
        log(f"  {side}-{side}: {100 * result.coverage():.1f}% of {result.n_nodes} {side}s have neighbours "
            f"(top-{params.topk}; mean {degrees[has].mean() if has.any() else 0:.1f} per covered {side}), "
            f"{'from cache' if result.from_cache else 'computed'}")
        results[f"{side}-{side}"] = result
        cached = cached and result.from_cache
    return results, cached


def _train_all(plan: list[tuple[str, dict[str, Any]]], dataset: Dataset, out: Path, cache,
               run_dirs: dict[str, Path], test: dict[str, dict[str, float]], log: Callable[[str], None]
               ) -> tuple[None, bool | None]:
    """Train every (label, raw config) of ``plan`` unless the stage cache has it; fills ``run_dirs`` / ``test``."""
    from fuserec.io import atomic_write_json
    from fuserec.report.collect import VARIANT_FILE, read_metrics
    from fuserec.stage_cache import content_key
    from fuserec.train.runner import resolve_config, train_run

    flags = []
    for label, raw in plan:
        config = resolve_config(raw)
        run_dir = out / "runs" / label
        inputs = [p for f in config.to_dict()["model"].get("semantic", []) for p in (f.get("path"), f.get("ids_path"))
                  if p]
        inputs += [config.to_dict()["model"][k] for k in ("profile_source", "intent_source")
                   if str(config.to_dict()["model"].get(k, "")).endswith(".npz")]
        key = content_key({"config": config.to_dict(), "label": label}, files=inputs)

        def compute(config=config, run_dir=run_dir, label=label) -> dict:
            if run_dir.exists():
                shutil.rmtree(run_dir)   # a run of other inputs: start afresh
            start = time.perf_counter()
            result = train_run(config, run_dir, dataset=dataset)
            atomic_write_json(run_dir / VARIANT_FILE, {"variant": label, "model": config.model_name,
                                                       "seed": config.train.seed,
                                                       "seconds": time.perf_counter() - start})
            return {"run_dir": str(run_dir), "seconds": time.perf_counter() - start}

        record, cached = cache.run(f"train {label}", key, compute,
                                   lambda r: [Path(r["run_dir"]) / "metrics.json", Path(r["run_dir"]) / VARIANT_FILE])
        metrics = read_metrics(record["run_dir"]) or {}
        run_dirs[label], test[label] = Path(record["run_dir"]), metrics.get("test", {})
        best = (metrics.get("best") or {}).get("epoch")
        monitor = metrics.get("monitor", "")
        value = test[label].get(monitor.split("/")[-1], float("nan")) if monitor else float("nan")
        log(f"  {label}: {'from cache' if cached else 'trained'}, {metrics.get('epochs_run')} epochs "
            f"(best {best}{', stopped early' if metrics.get('stopped_early') else ''}), test {monitor} "
            f"{value:.4f}, {record['seconds']:.1f} s to train -> {run_dirs[label]}")
        flags.append(cached)
    return None, (True if all(flags) else False if not any(flags) else None)


def _evaluate(dataset: Dataset, run_dirs: dict[str, Path], log: Callable[[str], None]
              ) -> tuple[str, list[RecommendedItem]]:
    """Print each task's comparison (with its reference row) and one user's top-10 by irllrec."""
    from fuserec.report.compare import build_comparison, comparison_table
    from fuserec.report.metric_info import model_label
    from fuserec.report.runs_report import (TASK_METRICS, base_rate_metrics, item_name, liked_in_test, read_run,
                                            sample_users)
    from fuserec.report.tables import markdown_table
    from fuserec.train.recommend import recommend
    from fuserec.train.runner import open_run

    records = [read_run(d) for d in run_dirs.values()]
    for task, title in (("pointwise", "classification (test split, at the best validation epoch)"),
                        ("ranking", "ranking (test split, all items ranked)")):
        recs = [r for r in records if r.task == task]
        metrics = [f"test_{m}" for m in TASK_METRICS[task] if any(f"test_{m}" in r.row() for r in recs)]
        reference = {"base_rate": {f"test_{k}": v for k, v in base_rate_metrics(dataset)[0].items()}} \
            if task == "pointwise" else {}
        comp = build_comparison([r.row() for r in recs], metrics, reference)
        table = comparison_table(comp, dataset.name, {g: model_label(g) for g in comp.labels})
        log(f"{title}; ↑ higher is better, ↓ lower is better, * best:")
        rows = [[c + ("*" if (r, j) in table.bold else "") for j, c in enumerate(row)][1:]
                for r, row in enumerate(table.rows)]
        log(markdown_table(table.headers[1:], rows, ["l"] + ["r"] * (len(table.headers) - 2)).rstrip("\n"))
    user = sample_users(dataset, 1)[0]
    raw = str(dataset.user_ids[user])
    liked = liked_in_test(dataset, user)
    model = open_run(run_dirs["irllrec"], dataset=dataset).model
    rec = recommend(model, dataset, raw, k=10)
    recs = [RecommendedItem(r + 1, item, score, item_name(dataset, dataset.item_of(item)), dataset.item_of(item) in liked)
            for r, (item, score) in enumerate(zip(rec.items, rec.scores))]
    log(f"top-10 of user {raw} by IRLLRec ({len(liked)} test positives, marked *; "
        f"{sum(r.liked_in_test for r in recs)} in the top-10):")
    log("\n".join(f"  {r.rank:>2}. {'*' if r.liked_in_test else ' '} {r.item}  {r.score:+.3f}  {r.description}"
                  for r in recs))
    return raw, recs


def _report(out: Path, dataset: Dataset, run_dirs: dict[str, Path], swing: dict[str, Any],
            vectors: dict[str, dict[str, str]], seed: int, world: str, cache, stages: _Stages,
            log: Callable[[str], None]) -> tuple[tuple[Path, Path], bool]:
    import fuserec.report.compare
    import fuserec.report.document
    import fuserec.report.plots
    import fuserec.report.runs_report
    from fuserec.report.runs_report import DatasetExtras, write_report
    from fuserec.stage_cache import content_key, source_key

    run_files = [Path(d) / name for d in run_dirs.values() for name in ("metrics.json", "curves.csv")]
    code = source_key(fuserec.report.runs_report, fuserec.report.compare, fuserec.report.document,
                      fuserec.report.plots, __import__(__name__))
    key = content_key({"runs": {k: str(v) for k, v in run_dirs.items()}, "code": code, "world": world,
                       "seed": seed}, files=run_files + [Path(vectors["none"]["item_profile"])])

    def compute() -> dict:
        item_vectors = np.load(vectors["none"]["item_profile"], allow_pickle=False)
        size = ", ".join(f"{k.removeprefix('n_')} {v:,}" for k, v in WORLDS[world].items()) or "the loader's defaults"
        notes = [f"The synthetic restaurant world `{world}` ({size}), seed {seed}. "
                 "Text models read all-MiniLM-L6-v2 vectors of template profiles (DLRREC, two-step) and of "
                 "profiles and intents (IRLLRec). The shuffled-text control is DLRREC trained on the same "
                 "vectors permuted across users and across items: whatever DLRREC gains over it comes from "
                 "the link between an entity and its own text."]
        extras = {dataset.name: DatasetExtras(dataset, swing=swing, item_text_vectors=item_vectors,
                                              text_cache=out / "cache", notes=notes)}
        timing = ", ".join(f"{name}: {s:.1f} s" for name, s in stages.seconds.items())
        intro = [f"`fuserec demo` (seed {seed}, world `{world}`): one run per model, so every table has n = 1 "
                 f"and no spread; `fuserec experiment` runs several seeds. Stage times of the run that wrote this report: {timing}."]
        result = write_report(list(run_dirs.values()), out, title="fuserec demo: text-fused recommenders on "
                              "the synthetic restaurant world", baseline=BASELINES, extras=extras, intro=intro,
                              cache_dir=out / "cache")
        return {"html": str(result.html), "md": str(result.markdown)}

    record, cached = cache.run("report", key, compute, lambda r: [r["html"], r["md"]])
    return (Path(record["html"]), Path(record["md"])), cached


def _most_popular_item(dataset: Dataset) -> int:
    return int(np.argmax(np.diff(dataset.csr("train").tocsc().indptr)))
