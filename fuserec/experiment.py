"""Several models × one or more datasets × seeds in one call, resumable, one report (``fuserec experiment``).

An experiment is a list of models (each a registered model with its own settings), a list of
datasets (SOURCE strings or ``dataset:`` mappings) and seeds. Every (dataset, model, seed) is
trained by the one Trainer through :func:`fuserec.report.ablation.run_ablation` into
``OUT/<dataset>/runs/<model>-seed<k>/``; a finished run is skipped, an interrupted one resumes from
its last checkpoint, so running the same experiment again trains only what is missing. At the end
:func:`fuserec.report.runs_report.write_report` writes ``OUT/report.html`` and ``OUT/report.md``
over all runs (one table per dataset and task).

Experiment YAML::

    title: Four models on two datasets
    datasets:
      - movielens:../shared/data/movielens/ml-100k
      - {format: synthetic, name: synthetic-small, options: {seed: 0, n_users: 300, n_items: 100, n_reviews: 6000}}
    seeds: 3                        # or a list: [0, 1, 2]
    train: {epochs: 200, patience: 5, eval_every: 2}   # shared by every model (a model's own set: wins)
    eval: {ks: [10, 20]}
    baseline: lightgcn              # of the paired differences (one per task allowed: a list)
    models:
      - pop
      - mf
      - {name: lightgcn, set: {model.aggregation: sum}}
      - {name: irllrec, label: irllrec, datasets: [synthetic-small]}   # only on these datasets

Relative dataset paths are read from the YAML file's folder.
"""

from __future__ import annotations

import copy
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from fuserec.config import load_yaml
from fuserec.errors import ConfigError

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]*$")
TOP_KEYS = ("title", "datasets", "seeds", "train", "eval", "models", "baseline")


@dataclass
class ModelSpec:
    """One model of an experiment: ``label`` (row and folder name), the registered ``model``, its
    ``overrides`` (dotted keys -> values, e.g. ``{"model.dim": 64}``) and, optionally, the dataset
    labels it runs on (None: all)."""

    label: str
    model: str
    overrides: dict[str, Any] = field(default_factory=dict)
    datasets: list[str] | None = None


@dataclass
class ExperimentSpec:
    models: list[ModelSpec]
    datasets: list[str | dict]
    seeds: list[int]
    train: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    title: str = "fuserec experiment"
    baseline: list[str] = field(default_factory=list)


@dataclass
class ExperimentResult:
    out_dir: Path
    run_dirs: list[Path]
    trained: list[str]
    skipped: list[str]
    report: Path
    report_md: Path
    seconds: float


def parse_model(entry: Any, where: str = "models") -> ModelSpec:
    """A model entry: a registered name (``"mf"``) or a mapping with ``name`` and optional
    ``label``, ``set`` (dotted overrides) and ``datasets`` (labels of the datasets it runs on)."""
    from fuserec.models import get_model

    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, Mapping) or not entry.get("name"):
        raise ConfigError("each model is a name or a mapping with a name", where)
    unknown = set(entry) - {"name", "label", "set", "datasets"}
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}; allowed: name, label, set, datasets", where)
    name = str(entry["name"])
    get_model(name)   # ConfigError naming the registered models when unknown
    label = str(entry.get("label") or name)
    if not _LABEL.match(label):
        raise ConfigError(f"label {label!r} must be letters, digits and . _ + = - only", f"{where}.label")
    overrides = entry.get("set") or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError("must be a mapping of dotted keys to values", f"{where}.set")
    datasets = entry.get("datasets")
    if datasets is not None and (not isinstance(datasets, list) or not all(isinstance(d, str) for d in datasets)):
        raise ConfigError("must be a list of dataset labels", f"{where}.datasets")
    return ModelSpec(label, name, dict(overrides), datasets)


def parse_experiment(raw: Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> ExperimentSpec:
    """An :class:`ExperimentSpec` from a YAML mapping (see the module docstring)."""
    if not isinstance(raw, Mapping):
        raise ConfigError("an experiment file is a mapping with datasets, models and seeds")
    unknown = set(raw) - set(TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: {', '.join(TOP_KEYS)}")
    models = [parse_model(m, f"models[{k}]") for k, m in enumerate(raw.get("models") or [])]
    datasets = []
    for k, d in enumerate(raw.get("datasets") or []):
        if isinstance(d, Mapping):
            d = dict(d)
            if d.get("path") and base_dir is not None and not Path(d["path"]).is_absolute():
                d["path"] = str(Path(base_dir) / d["path"])
        elif isinstance(d, str):
            d = _relative_source(d, base_dir)
        else:
            raise ConfigError("must be a SOURCE string or a dataset mapping", f"datasets[{k}]")
        datasets.append(d)
    seeds = parse_seeds(raw.get("seeds", 1))
    baseline = raw.get("baseline") or []
    baseline = [baseline] if isinstance(baseline, str) else [str(b) for b in baseline]
    spec = ExperimentSpec(models, datasets, seeds, dict(raw.get("train") or {}), dict(raw.get("eval") or {}),
                          str(raw.get("title") or "fuserec experiment"), baseline)
    check(spec)
    return spec


def _relative_source(source: str, base_dir: str | os.PathLike | None) -> str:
    if base_dir is None or ":" not in source:
        return source
    fmt, path = source.split(":", 1)
    if fmt in ("synthetic",) or not path or Path(path).is_absolute():
        return source
    return f"{fmt}:{Path(base_dir) / path}"


def parse_seeds(value: Any) -> list[int]:
    """A count n (seeds 0..n-1) or a list of distinct seeds."""
    if isinstance(value, bool):
        raise ConfigError("must be a count or a list of seeds", "seeds")
    if isinstance(value, int):
        if value < 1:
            raise ConfigError("must be at least 1", "seeds")
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        if len(set(value)) != len(value):
            raise ConfigError("seeds must be distinct", "seeds")
        return list(value)
    raise ConfigError("must be a count or a list of seeds", "seeds")


def load_experiment(path: str | os.PathLike) -> ExperimentSpec:
    """Read an experiment YAML file."""
    raw = load_yaml(path) or {}
    return parse_experiment(raw, Path(path).parent)


def check(spec: ExperimentSpec) -> None:
    if not spec.models:
        raise ConfigError("an experiment needs at least one model", "models")
    if not spec.datasets:
        raise ConfigError("an experiment needs at least one dataset", "datasets")
    labels = [m.label for m in spec.models]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"model labels must be unique; repeated: {', '.join(dupes)} (give each a label:)", "models")


def dataset_folder(dataset: str | dict) -> str:
    """The folder name of a dataset's runs (its label, made safe)."""
    from fuserec.config import to_dict
    from fuserec.data.sources import parse_source
    from fuserec.report.runs_report import dataset_label

    label = dataset_label(to_dict(parse_source(dataset)))
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label).strip("_") or "dataset"


def run_experiment(spec: ExperimentSpec, out_dir: str | os.PathLike, *, threads: int | None = None,
                   progress: bool = True, log: Callable[[str], None] = print, deep: bool = True) -> ExperimentResult:
    """Train every (dataset, model, seed) of ``spec`` not yet finished, then write the report.

    All configurations of a dataset are resolved (and validated) before any of them trains.
    threads: torch's intra-op threads during training (None: as it is).
    """
    from fuserec.config import to_dict
    from fuserec.data.sources import parse_source
    from fuserec.report.ablation import Variant, run_ablation
    from fuserec.report.collect import is_complete
    from fuserec.report.runs_report import baselines_by_task, dataset_label, read_run, write_report

    check(spec)
    out = Path(out_dir)
    start = time.perf_counter()
    labels = {}
    for d in spec.datasets:
        labels[dataset_label(to_dict(parse_source(d)))] = d
    for m in spec.models:
        for wanted in m.datasets or []:
            if wanted not in labels:
                raise ConfigError(f"model {m.label}: no dataset labelled {wanted!r}; datasets: {', '.join(labels)}",
                                  "models.datasets")
    run_dirs: list[Path] = []
    trained: list[str] = []
    skipped: list[str] = []
    for label, dataset in labels.items():
        models = [m for m in spec.models if m.datasets is None or label in m.datasets]
        if not models:
            continue
        folder = out / dataset_folder(dataset)
        log(f"experiment: {label}: {', '.join(m.label for m in models)} × seeds "
            f"{', '.join(map(str, spec.seeds))} -> {folder}")
        base = {"dataset": copy.deepcopy(dataset) if isinstance(dataset, dict) else None,
                "train": copy.deepcopy(spec.train), "eval": copy.deepcopy(spec.eval)}
        base = {k: v for k, v in base.items() if v}
        variants = [Variant(m.label, m.overrides, m.model) for m in models]
        result = run_ablation(variants, dataset if isinstance(dataset, str) else None, spec.seeds, folder,
                              base_config=base, threads=threads, progress=progress,
                              title=f"{spec.title}: {label}")
        trained += [f"{label}/{r}" for r in result.trained]
        skipped += [f"{label}/{r}" for r in result.skipped]
        for m in models:
            run_dirs += result.run_dirs(m.label)
    finished = [d for d in run_dirs if (d / "metrics.json").is_file()]
    records = [read_run(d) for d in finished if is_complete(d)]
    log(f"experiment: {len(trained)} runs trained now, {len(skipped)} already finished; writing the report")
    baseline = baselines_by_task(records, spec.baseline) if spec.baseline else None
    intro = [f"`fuserec experiment`: {len(spec.models)} models × {len(labels)} datasets × {len(spec.seeds)} seeds "
             f"({len(records)} finished runs). Shared training settings: "
             + (", ".join(f"`{k}: {v}`" for k, v in spec.train.items()) or "the defaults") + ". Models: "
             + "; ".join(f"`{m.label}` ({m.model}" + (", " + ", ".join(f"{k}={v}" for k, v in m.overrides.items())
                                                      if m.overrides else "")
                         + (f", only on {', '.join(m.datasets)}" if m.datasets else "") + ")" for m in spec.models)
             + "."]
    report = write_report(records, out, title=spec.title, baseline=baseline, intro=intro, deep=deep,
                          cache_dir=out / "cache", progress=log)
    return ExperimentResult(out, run_dirs, trained, skipped, report.html, report.markdown,
                            time.perf_counter() - start)


__all__ = ["ExperimentResult", "ExperimentSpec", "ModelSpec", "load_experiment", "parse_experiment",
           "parse_model", "parse_seeds", "run_experiment"]
