"""The HTML + Markdown report of a set of finished runs (``fuserec report``, the demo, ``fuserec experiment``).

:func:`write_report` reads run directories and writes ``OUT/report.html`` (self-contained: inline
CSS, images as data URIs, no script, nothing fetched) and ``OUT/report.md`` (PNGs under
``OUT/images/``). Runs are grouped by dataset first; within a dataset by task (classification,
ranking). For every dataset:

* a summary of the dataset (users, items, interactions, splits);
* per task a comparison table (mean ± sample std over seeds, n, the better direction ↑/↓ of every
  metric, the best mean in bold) with a reference row (the base rate of a constant prediction
  for classification, the popularity ranking for ranking, when no ``pop`` run is among the runs),
  and a table of paired differences against a baseline (by seed, 95% t-intervals);
* training curves (one panel per metric, so log-loss and the training loss never share an axis
  with higher-is-better metrics; the kept epoch starred);
* the SWING score distribution (item-item and user-user, on the training split);
* a 2-D PCA map of item vectors (the best model's item embedding, and the text vectors where
  given) coloured by the item's category;
* three sample users: their profile and intent texts and the best model's top-10 with item
  names, test hits marked.

The dataset is loaded again from the runs' configuration unless given in ``extras``; the deep
sections (SWING, item map, sample users) also open the trained models from their best
checkpoints; ``deep=False`` leaves them out.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from fuserec.errors import ConfigError, DataError
from fuserec.report.collect import find_runs, read_finished, read_metrics
from fuserec.report.compare import build_comparison, comparison_table, delta_table
from fuserec.report.document import Document, Figure, Paragraph, Preformatted, Section, Table, write_document
from fuserec.report.metric_info import human_name, model_label

log = logging.getLogger("fuserec.report")

#: headline metrics of each task, in column order (those present in the runs are shown)
TASK_METRICS = {
    "pointwise": ("accuracy", "fpr", "tuned_accuracy", "tuned_fpr", "tuned_threshold", "roc_auc", "pr_auc",
                  "log_loss", "gauc"),
    "ranking": ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "hit@10", "mrr@10"),
}
TASK_NAMES = {"pointwise": "classification (rating ≥ threshold)", "ranking": "top-K ranking (all items)"}
#: preferred baselines of the paired differences, first present wins
DEFAULT_BASELINES = {"pointwise": ("two_step", "dlrm", "base_rate"), "ranking": ("lightgcn", "mf", "pop")}
#: curve panels per task: (column of curves.csv, title); the monitored metric is added first
#: (the training panel shows the loss term every model of the task shares, BCE or BPR, so that
#: models with extra terms, DLRREC's InfoNCE or IRLLRec's alignment, stay comparable)
CURVE_PANELS = {"pointwise": (("bce", "training BCE"), ("valid_roc_auc", "valid ROC-AUC"),
                              ("valid_log_loss", "valid log-loss")),
                "ranking": (("bpr", "training BPR loss"), ("valid_recall@20", "valid Recall@20"),
                            ("valid_ndcg@20", "valid NDCG@20"))}
N_SAMPLE_USERS = 3


@dataclass
class RunRecord:
    """One finished run as the report sees it."""

    run_dir: Path
    label: str            # variant or model name (the row of the tables)
    model: str            # registered model name
    seed: int | None
    dataset: str          # dataset label (rows of different datasets never share a table)
    dataset_config: dict
    task: str             # "pointwise" or "ranking"
    metrics: dict
    curves: list[dict[str, float]]

    @property
    def best_epoch(self) -> int | None:
        return (self.metrics.get("best") or {}).get("epoch")

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "seed": self.seed}
        for key, value in (self.metrics.get("test") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[f"test_{key}"] = float(value)
        return out


@dataclass
class DatasetExtras:
    """What a caller already has for one dataset (the demo): the loaded dataset, its SWING results
    (``"item-item"`` / ``"user-user"`` -> SwingResult), item text vectors for the map, and the text
    cache folder holding the template texts; ``user_texts`` (heading -> one text per user, e.g. the
    users' own bios) replaces the template profile and intent texts of the sample users."""

    dataset: Any = None
    swing: Mapping[str, Any] | None = None
    item_text_vectors: np.ndarray | None = None
    text_cache: str | os.PathLike | None = None
    notes: list[str] = field(default_factory=list)
    user_texts: Mapping[str, Sequence[str]] | None = None


@dataclass
class ReportResult:
    html: Path
    markdown: Path
    images: list[Path]
    document: Document


def dataset_label(config: Mapping[str, Any]) -> str:
    """A short name of a run's ``dataset:`` section: its ``name``, else ``format:folder``."""
    if config.get("name"):
        return str(config["name"])
    fmt = config.get("format") or "?"
    path = config.get("path")
    if fmt == "synthetic":
        opts = config.get("options") or {}
        return f"synthetic (seed {opts.get('seed', 0)})"
    return f"{fmt}:{Path(path).name}" if path else str(fmt)


def read_run(run_dir: str | os.PathLike) -> RunRecord:
    """The :class:`RunRecord` of a finished run directory (DataError when it is not finished)."""
    from fuserec.models import get_model

    run_dir = Path(run_dir)
    metrics, config, info, model = read_finished(run_dir)
    try:
        task = get_model(model).task
    except Exception:  # noqa: BLE001 - an unknown model: guess from the metrics
        task = "pointwise" if "roc_auc" in (metrics.get("test") or {}) else "ranking"
    seed = (config.get("train") or {}).get("seed", info.get("seed"))
    ds_cfg = config.get("dataset") or {}
    return RunRecord(run_dir, str(info.get("variant") or model), model, seed, dataset_label(ds_cfg), ds_cfg,
                     task, metrics, _read_curves(run_dir))


def _read_curves(run_dir: Path) -> list[dict[str, float]]:
    import csv

    path = run_dir / "curves.csv"
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            parsed = {}
            for k, v in row.items():
                try:
                    parsed[k] = float(v)
                except (TypeError, ValueError):
                    continue
            rows.append(parsed)
    return rows


def collect(paths: Sequence[str | os.PathLike]) -> tuple[list[RunRecord], list[Path]]:
    """Finished runs under ``paths`` (run folders or folders of runs) and the unfinished ones."""
    done, unfinished = [], []
    for run_dir in find_runs(paths):
        if read_metrics(run_dir) is None:
            unfinished.append(run_dir)
        else:
            done.append(read_run(run_dir))
    return done, unfinished


def write_report(runs: Sequence[RunRecord | str | os.PathLike], out_dir: str | os.PathLike, *,
                 title: str = "fuserec report", baseline: str | Mapping[str, str] | None = None,
                 deep: bool = True, extras: Mapping[str, DatasetExtras] | None = None,
                 intro: Sequence[str] = (), cache_dir: str | os.PathLike | None = None,
                 unfinished: Sequence[Path] = (), progress: Callable[[str], None] | None = None,
                 sections: Sequence[Section] = ()) -> ReportResult:
    """Write ``out_dir/report.html`` and ``out_dir/report.md`` for ``runs`` (see the module docstring).

    Args:
        runs: :class:`RunRecord` objects or run directories / folders of runs.
        baseline: the label of the paired differences' baseline, one for all tasks or per task
            (``{"pointwise": "two_step", "ranking": "lightgcn"}``); default :data:`DEFAULT_BASELINES`.
        deep: open the trained models and compute SWING for the SWING, item map and sample users
            sections (the dataset itself is always loaded, for its summary and the reference rows).
        extras: dataset label -> :class:`DatasetExtras` the caller already has.
        intro: paragraphs put first (what was run, how long it took).
        cache_dir: where SWING results and template texts computed for the report are kept
            (default ``out_dir/cache``).
        unfinished: run folders to list as left out.
        sections: the caller's own sections, put right after "About this report" (the demo's verdict).
    """
    out_dir = Path(out_dir)
    say = progress or (lambda line: log.info(line))
    records = [r if isinstance(r, RunRecord) else None for r in runs]
    paths = [r for r in runs if not isinstance(r, RunRecord)]
    unfinished = list(unfinished)
    if paths:
        found, more = collect(paths)
        unfinished += more
        records = [r for r in records if r is not None] + found
    records = [r for r in records if r is not None]
    if not records:
        raise DataError("no finished run found (a finished run has test results in metrics.json)",
                        paths[0] if paths else out_dir)
    if isinstance(baseline, str):
        baseline = baselines_by_task(records, [baseline])
    images_dir = out_dir / "images"
    cache = Path(cache_dir) if cache_dir is not None else out_dir / "cache"
    doc = Document(title, subtitle=_subtitle(records))
    overview = [Paragraph(p) for p in intro]
    overview.append(Paragraph(_how_to_read()))
    if unfinished:
        overview.append(Paragraph("Unfinished runs, left out:\n\n" + "\n".join(f"- `{p}`" for p in unfinished)))
    doc.sections.append(Section("About this report", overview))
    doc.sections += list(sections)
    by_dataset: dict[str, list[RunRecord]] = {}
    for rec in records:
        by_dataset.setdefault(rec.dataset, []).append(rec)
    for k, (name, recs) in enumerate(by_dataset.items()):
        say(f"report: dataset {name} ({len(recs)} runs)")
        doc.sections += _dataset_sections(name, recs, images_dir / f"d{k}", baseline, deep,
                                          (extras or {}).get(name) or DatasetExtras(), cache)
    html_path, md_path = write_document(doc, out_dir)
    return ReportResult(html_path, md_path, [Path(f.path) for f in doc.figures()], doc)


def _subtitle(records: Sequence[RunRecord]) -> str:
    datasets = list(dict.fromkeys(r.dataset for r in records))
    seeds = sorted({r.seed for r in records if r.seed is not None})
    return (f"{len(records)} runs · {len(datasets)} dataset(s): {', '.join(datasets)} · "
            f"seeds {', '.join(map(str, seeds)) or '—'}")


def _how_to_read() -> str:
    return ("How to read the tables: test metrics at the checkpoint of the best validation epoch; mean ± "
            "sample standard deviation (ddof = 1) over seeds, n = number of seeds (with n = 1 the single value "
            "is shown and there is no spread). ↑ = higher is better, ↓ = lower is better; the best mean of "
            "each metric is in **bold**. Paired differences Δ = model − baseline are paired by seed, with a 95% "
            "t-interval over the seeds (mean ± t·sd/√n); a Δ in **bold** has its interval entirely on the "
            "better side of 0. Runs on different datasets are never in one table.")


# ---------------------------------------------------------------------- per dataset
def _dataset_sections(name: str, recs: list[RunRecord], images: Path, baseline: str | Mapping[str, str] | None,
                      deep: bool, extras: DatasetExtras, cache: Path) -> list[Section]:
    sections = [Section(f"Dataset: {name}", [])]
    head = sections[0].blocks
    dataset = extras.dataset
    if dataset is None:
        dataset = _load_dataset(recs[0])
    if dataset is not None:
        from fuserec.data.info import format_summary, summarize

        head.append(Preformatted(format_summary(summarize(dataset))))
    for note in extras.notes:
        head.append(Paragraph(note))
    tasks = [t for t in ("pointwise", "ranking") if any(r.task == t for r in recs)]
    best_runs: dict[str, RunRecord] = {}
    for task in tasks:
        task_recs = [r for r in recs if r.task == task]
        sec, best = _task_section(name, task, task_recs, images, baseline, dataset)
        sections.append(sec)
        if best is not None:
            best_runs[task] = best
        curves = _curves_figure(name, task, task_recs, images)
        if curves is not None:
            sections.append(Section(f"{name} · training curves, {TASK_NAMES[task]}", [curves], level=3))
    if deep and dataset is not None:
        sections += _swing_section(name, dataset, extras, images, cache)
        sections += _item_map_section(name, dataset, best_runs, extras, images)
        sections += _sample_users_section(name, dataset, best_runs, extras, cache)
    return sections


def _load_dataset(rec: RunRecord):
    from fuserec.data.sources import load_dataset

    try:
        return load_dataset(rec.dataset_config)
    except Exception as exc:  # noqa: BLE001 - the report still has its tables
        log.warning("report: cannot load dataset %s (%s); its deep sections are left out", rec.dataset, exc)
        return None


def _task_section(name: str, task: str, recs: list[RunRecord], images: Path,
                  baseline: str | Mapping[str, str] | None, dataset) -> tuple[Section, RunRecord | None]:
    rows = [r.row() for r in recs]
    present = {k for row in rows for k in row}
    metrics = [f"test_{m}" for m in TASK_METRICS[task] if f"test_{m}" in present]
    if not metrics:
        metrics = sorted(k for k in present if k.startswith("test_"))[:8]
    reference: dict[str, dict[str, float]] = {}
    ref_note = ""
    if dataset is not None:
        if task == "pointwise":
            reference["base_rate"], ref_note = base_rate_metrics(dataset)
        elif not any(r.model == "pop" for r in recs):
            ks = sorted({int(m.split("@")[1]) for m in metrics if "@" in m})
            reference["pop"] = popularity_metrics(dataset, ks)
            ref_note = "The popularity row ranks every item by its training interactions (computed here, no seeds)."
    comp = build_comparison(rows, metrics, {k: {f"test_{m}": v for m, v in ref.items()} for k, ref in reference.items()})
    display = {label: model_label(label) for label in comp.labels}
    if "pop" in reference:
        display["pop"] = "popularity (computed)"
    blocks: list[Any] = []
    counts = sorted({comp.stats(g, metrics[0])[2] for g in comp.labels if g not in reference})
    text = (f"{len(recs)} runs; seeds per model: {', '.join(map(str, counts))}. " if counts else "") + ref_note
    if counts and max(counts) == 1:
        text += " Every model has one seed (n = 1): the values carry no spread and no interval."
    blocks.append(Paragraph(text.strip()))
    table = comparison_table(comp, name, display)
    table.caption = f"{name}: test metrics, {TASK_NAMES[task]}"
    blocks.append(table)
    chosen = _baseline_for(task, baseline, comp.labels)
    if chosen is not None and len(comp.labels) > 1:
        deltas = delta_table(comp, chosen, name, display)
        deltas.caption = (f"{name}: paired difference against {display.get(chosen, chosen)} "
                          f"(model − baseline, mean over seeds [95% t-interval])"
                          + (". With one seed per model there is no interval (n = 1)."
                             if counts and max(counts) == 1 else ""))
        blocks.append(deltas)
    best = _best_run(recs, comp, metrics, task)
    return Section(f"{name} · {TASK_NAMES[task]}", blocks, level=3), best


def _baseline_for(task: str, baseline: str | Mapping[str, str] | None, labels: list[str]) -> str | None:
    if isinstance(baseline, Mapping):
        baseline = baseline.get(task)
    if baseline is not None:
        if baseline not in labels:
            raise ConfigError(f"baseline {baseline!r} is not among the {task} runs ({', '.join(labels)})",
                              "baseline")
        return baseline
    return next((b for b in DEFAULT_BASELINES[task] if b in labels), labels[0] if labels else None)


def _best_run(recs: list[RunRecord], comp, metrics: list[str], task: str) -> RunRecord | None:
    """The first seed's run of the label with the best mean of the task's first ranking metric."""
    key = next((m for m in ("test_roc_auc", "test_recall@20", "test_ndcg@20", "test_recall@10") if m in metrics),
               metrics[0] if metrics else None)
    labels = {r.label for r in recs}
    means = {g: comp.stats(g, key)[0] for g in comp.labels if g in labels} if key else {}
    means = {g: m for g, m in means.items() if math.isfinite(m)}
    if not means:
        return None
    best = max(means, key=means.get)
    return min((r for r in recs if r.label == best), key=lambda r: (r.seed is None, r.seed or 0))


def base_rate_metrics(dataset) -> tuple[dict[str, float], str]:
    """Test metrics of the constant prediction p = the training share of positive labels."""
    from fuserec.eval.classification import classification_metrics
    from fuserec.train.tasks import PointwiseTask

    task = PointwiseTask(dataset)
    p = float(np.clip(task.train_examples[2].mean(), 1e-6, 1 - 1e-6))
    _, _, labels = task.examples("test")
    logits = np.full(len(labels), math.log(p / (1 - p)), dtype=np.float64)
    metrics = classification_metrics(logits, labels)
    out = {k: float(v) for k, v in metrics.items() if k in ("accuracy", "fpr", "fnr", "roc_auc", "pr_auc", "log_loss")}
    # a constant prediction has two thresholds to choose from; the accuracy-maximising one is the majority class
    out.update({"tuned_accuracy": out["accuracy"], "tuned_fpr": out["fpr"], "gauc": 0.5})
    note = (f"The base-rate row predicts the training share of positives, p = {p:.3f}, for every example "
            f"(so it predicts {'positive' if p >= 0.5 else 'negative'} for all at 0.5): accuracy = the test "
            f"share of the majority class, ROC-AUC 0.5. A model is only useful where it beats this row.")
    return out, note


def popularity_metrics(dataset, ks: Sequence[int]) -> dict[str, float]:
    """Full-ranking test metrics of ranking items by their training interaction count."""
    import torch

    from fuserec.eval.ranking import evaluate_ranking

    train = dataset.csr("train")
    counts = torch.from_numpy(np.asarray(train.sum(axis=0), dtype=np.float32).ravel())
    ks = tuple(ks) or (10, 20)
    metrics = evaluate_ranking(lambda users: counts.unsqueeze(0).repeat(len(users), 1), train,
                               dataset.csr("test"), ks=ks, exclude=dataset.csr("valid"))
    return {k: float(v) for k, v in metrics.items()}


def _curves_figure(name: str, task: str, recs: list[RunRecord], images: Path) -> Figure | None:
    from fuserec.report.plots import training_curves

    first_seed: dict[str, RunRecord] = {}
    for r in sorted(recs, key=lambda r: (r.seed is None, r.seed or 0)):
        if len(r.curves) >= 2:
            first_seed.setdefault(r.label, r)
    if not first_seed:
        return None
    panels = list(CURVE_PANELS[task])
    monitor = next(iter(first_seed.values())).metrics.get("monitor")
    if monitor and f"valid_{monitor}" not in [p for p, _ in panels]:
        panels.insert(1, (f"valid_{monitor}", f"valid {human_name(monitor)}"))
    panels = [(c, t) for c, t in panels if any(c in row for r in first_seed.values() for row in r.curves)]
    if not panels:
        return None
    seeds = sorted({r.seed for r in first_seed.values() if r.seed is not None})
    path = training_curves(images / f"curves_{task}.png",
                           {model_label(label): r.curves for label, r in first_seed.items()}, panels,
                           {model_label(label): r.best_epoch for label, r in first_seed.items()},
                           title=f"{name}: training curves (seed {', '.join(map(str, seeds))})")
    epochs = ", ".join(f"{model_label(label)} {int(r.metrics.get('epochs_run') or 0)} epochs run, best "
                       f"{r.best_epoch}" for label, r in first_seed.items())
    return Figure(path, f"Per-epoch training loss and validation metrics of each model's first seed; the star marks "
                        f"the epoch whose checkpoint was kept (early stopping). {epochs}.")


def _swing_section(name: str, dataset, extras: DatasetExtras, images: Path, cache: Path) -> list[Section]:
    from fuserec.report.plots import swing_distribution

    results = dict(extras.swing or {})
    if not results:
        from fuserec.graph.swing import swing_cached
        from fuserec.models.dlrm.variants import DLRRECConfig

        cfg = DLRRECConfig()
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        for side in ("item", "user"):
            results[f"{side}-{side}"] = swing_cached(dataset, cfg.swing_params(side),
                                                     cache / "swing" / f"{safe}-{side}.npz")
    path = swing_distribution(images / "swing.png", results, title=f"{name}: SWING neighbours (training split)")
    params = next(iter(results.values())).params or {}
    text = ("SWING similarities on the training split's interactions, with the parameters DLRREC's "
            "SwING-InfoNCE uses (" + ", ".join(f"{k} = {v}" for k, v in params.items()
                                                if k in ("topk", "alpha", "beta", "max_users_per_item")) +
            "): top row the kept scores (log scale), bottom row how many neighbours each user / item keeps.")
    return [Section(f"{name} · SWING score distribution", [Paragraph(text), Figure(path, "SWING scores and neighbours")],
                    level=3)]


def item_categories(dataset) -> tuple[np.ndarray | None, str]:
    """(n_items,) label per item: the first value of the first item token field (the 8 most
    frequent values kept, the rest ``other``), and the field's name; (None, "label") without one."""
    fields = dataset.fields_of("item", "token_seq") + dataset.fields_of("item", "token")
    if not fields:
        return None, "label"
    column = dataset.item_features[fields[0].name]

    def first(cell):
        if isinstance(cell, (list, tuple, np.ndarray)):
            return str(cell[0]) if len(cell) else "(none)"
        return "(none)" if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell)

    labels = column.map(first).to_numpy().astype(str)
    counts = {v: c for v, c in zip(*np.unique(labels, return_counts=True))}
    top = set(sorted(counts, key=lambda v: -counts[v])[:8])
    return np.where(np.isin(labels, list(top)), labels, "other"), fields[0].name


def _item_vectors(rec: RunRecord, dataset) -> np.ndarray | None:
    from fuserec.train.runner import open_run

    try:
        model = open_run(rec.run_dir, dataset=dataset).model
        emb = model.embeddings() if hasattr(model, "embeddings") else {}
    except Exception as exc:  # noqa: BLE001 - a model without item vectors: no panel
        log.warning("report: no item vectors from %s (%s)", rec.run_dir, exc)
        return None
    item = emb.get("item") if isinstance(emb, dict) else None
    if item is None:
        return None
    vectors = item.detach().cpu().numpy() if hasattr(item, "detach") else np.asarray(item)
    return vectors if vectors.ndim == 2 and vectors.shape[0] == dataset.n_items else None


def _item_map_section(name: str, dataset, best_runs: Mapping[str, RunRecord], extras: DatasetExtras,
                      images: Path) -> list[Section]:
    from fuserec.report.plots import projection_scatter

    labels, field_name = item_categories(dataset)
    sets: dict[str, np.ndarray] = {}
    if extras.item_text_vectors is not None:
        sets["item text vectors\n(all-MiniLM-L6-v2)"] = np.asarray(extras.item_text_vectors)
    for task in ("ranking", "pointwise"):
        rec = best_runs.get(task)
        if rec is None:
            continue
        vectors = _item_vectors(rec, dataset)
        if vectors is not None:
            sets[f"{model_label(rec.label)}\nitem embedding (seed {rec.seed})"] = vectors
    if not sets:
        return []
    path = projection_scatter(images / "item_map.png", sets, labels, title=f"{name}: item vectors, 2-D PCA",
                              label_name=field_name)
    colour = f"coloured by `{field_name}` (first value; the 8 most frequent, the rest `other`)" if labels is not None \
        else "(the dataset has no item category field)"
    text = (f"Each panel projects one set of item vectors on its own first two principal components, {colour}. "
            "Items of one category close together mean the vectors encode it.")
    return [Section(f"{name} · map of item vectors", [Paragraph(text), Figure(path, "item vectors, 2-D PCA")],
                    level=3)]


def sample_users(dataset, n: int = N_SAMPLE_USERS) -> list[int]:
    """``n`` users with training interactions and test positives: the one with the most test
    positives, then users at even steps down that order (deterministic)."""
    test = dataset.split_frame("test")
    threshold = dataset.label_threshold()
    if threshold is not None and "rating" in test and test["rating"].notna().any():
        test = test[test["rating"].to_numpy() >= threshold]
    counts = np.bincount(test["user"].to_numpy(np.int64), minlength=dataset.n_users)
    counts[np.diff(dataset.csr("train").indptr) == 0] = 0
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    if len(order) <= n:
        return [int(u) for u in order]
    picks = np.linspace(0, len(order) // 2, n).astype(int)
    return [int(order[p]) for p in picks]


def liked_in_test(dataset, user: int) -> set[int]:
    """Items (indices) ``user`` has in the test split (rated at or above the label threshold, if any)."""
    test = dataset.split_frame("test")
    rows = test[test["user"].to_numpy() == user]
    threshold = dataset.label_threshold()
    if threshold is not None and "rating" in rows and rows["rating"].notna().any():
        rows = rows[rows["rating"].to_numpy() >= threshold]
    return set(int(i) for i in rows["item"].to_numpy())


def item_name(dataset, item: int, width: int = 90) -> str:
    """The item's description (:func:`fuserec.data.describe.describe_item`: side fields of note and
    the first sentence of its text), or its raw id when it has neither."""
    from fuserec.data.describe import describe_item

    return describe_item(dataset, item, width) or str(dataset.item_ids[item])


def _texts(dataset, kind: str, cache: Path | None) -> list[str] | None:
    from fuserec.text.generate import generate_texts

    try:
        table = generate_texts(dataset, kind, "user", "template", cache_dir=cache, progress=False)
    except Exception as exc:  # noqa: BLE001 - a dataset the template cannot describe
        log.warning("report: no %s texts for %s (%s)", kind, dataset.name, exc)
        return None
    return [str(r.get("text", "")) for r in table.records]


def _sample_users_section(name: str, dataset, best_runs: Mapping[str, RunRecord], extras: DatasetExtras,
                          cache: Path) -> list[Section]:
    from fuserec.train.recommend import recommend
    from fuserec.train.runner import open_run

    rec = best_runs.get("ranking") or best_runs.get("pointwise")
    if rec is None:
        return []
    users = sample_users(dataset)
    if not users:
        return []
    model = open_run(rec.run_dir, dataset=dataset).model
    if extras.user_texts is not None:
        texts, which = dict(extras.user_texts), "own texts"
    else:
        text_cache = Path(extras.text_cache) if extras.text_cache is not None else cache / "texts"
        texts = {"Profile": _texts(dataset, "profile", text_cache), "Intent": _texts(dataset, "intent", text_cache)}
        which = "template profile and intent texts"
    blocks: list[Any] = [Paragraph(
        f"Three users with test positives (the one with the most, then users further down that order). Their "
        f"{which} (what the text models encode), and the top-10 of "
        f"**{model_label(rec.label)}** (seed {rec.seed}; the best model of this dataset by its first ranking "
        f"metric) among the items they have not interacted with in train or valid. ✓ = the item is among the "
        f"user's test positives.")]
    for user in users:
        raw = str(dataset.user_ids[user])
        liked = liked_in_test(dataset, user)
        recs = recommend(model, dataset, raw, k=10)
        hits = sum(dataset.item_of(i) in liked for i in recs.items)
        n_train = int(np.diff(dataset.csr("train").indptr)[user])
        blocks.append(Paragraph(f"**User {raw}**: {n_train} training interactions, {len(liked)} test positives; "
                                f"{hits} of the top-10 are test positives."))
        for heading, values in texts.items():
            if values is not None:
                blocks.append(Paragraph(f"{heading}: {values[user]}"))
        rows = [[str(r + 1), "✓" if dataset.item_of(item) in liked else "", item_name(dataset, dataset.item_of(item)),
                 f"{score:.3f}"]
                for r, (item, score) in enumerate(zip(recs.items, recs.scores))]
        blocks.append(Table(["rank", "hit", "item", "score"], rows,
                            caption=f"{name}: top-10 of user {raw} by {model_label(rec.label)}",
                            align=["r", "l", "l", "r"], kind="topk"))
    return [Section(f"{name} · three sample users", blocks, level=3)]


def baselines_by_task(records: Sequence[RunRecord], names: Sequence[str]) -> dict[str, str]:
    """Task -> the first of ``names`` found among that task's run labels (or its reference row);
    a name found in no task is a ConfigError."""
    labels: dict[str, set[str]] = {"pointwise": {"base_rate"}, "ranking": {"pop"}}
    for r in records:
        labels.setdefault(r.task, set()).add(r.label)
    out: dict[str, str] = {}
    for name in names:
        tasks = [t for t, found in labels.items() if name in found]
        if not tasks:
            known = sorted(set().union(*labels.values()))
            raise ConfigError(f"baseline {name!r} is not among the runs; labels: {', '.join(known)}", "baseline")
        for t in tasks:
            out.setdefault(t, name)
    return out


def write_results_csv(path: str | os.PathLike, records: Sequence[RunRecord]) -> None:
    """One row per run: dataset, task, label, model, seed, best epoch, epochs run, folder, test metrics."""
    from fuserec.report.tables import write_csv

    rows = [{"dataset": r.dataset, "task": r.task, "label": r.label, "model": r.model, "seed": r.seed,
             "best_epoch": r.best_epoch, "epochs_run": r.metrics.get("epochs_run"), "run_dir": str(r.run_dir),
             **{k: v for k, v in r.row().items() if k.startswith("test_")}} for r in records]
    write_csv(path, rows)


__all__ = ["DatasetExtras", "ReportResult", "RunRecord", "base_rate_metrics", "baselines_by_task", "collect", "dataset_label",
           "item_categories", "popularity_metrics", "read_run", "sample_users", "write_report", "write_results_csv"]
