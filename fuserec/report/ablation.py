"""Generic ablation runner: every variant × seed trained through :mod:`fuserec.train.runner`.

Layout of ``out_dir``::

    out_dir/runs/<variant>-seed<k>/   one run directory per (variant, seed) (see fuserec.train.run_dir),
                                      plus ablation.json (variant, model, seed, seconds, threads)
    out_dir/results.csv               one row per run: test_* and valid_* metrics at the best checkpoint
    out_dir/summary.csv               variant, metric, mean, std (ddof = 1), n
    out_dir/summary.md                tables (mean ± std, n) and plots
    out_dir/plots/*.png               metrics per variant; one sweep plot per swept parameter

Resumable: a run whose ``metrics.json`` already holds test results (and whose saved config
equals the one resolved now) is skipped, and so is a run recorded as diverged in its
``ablation.json`` (delete that file to try it again); a run interrupted mid-training continues from its
``checkpoints/last.pt``. Re-running the same command after an interruption therefore trains
only what is missing.

Model families plug in a list of variants under a name (``fuserec ablate FAMILY``). Put a module
``fuserec/report/families/<family>.py`` (imported when the family is first asked for) that calls
:func:`register_ablation`::

    from fuserec.report.ablation import Variant, register_ablation

    def _variants(source: str, args) -> list[Variant]:
        return [
            Variant("lightgcn", {}, "lightgcn"),
            Variant("rlmrec-con", {"model.lambda_kd": 1e-2}, "rlmrec_con"),
            Variant("irllrec", ["model.lambda_pair=0.02"], "irllrec"),
            *[Variant(f"irllrec-d{d}", {"model.dim": d}, "irllrec", sweep=("model.dim", d))
              for d in (16, 32, 64, 128)],
        ]

    register_ablation("irllrec", _variants, description="LightGCN vs RLMRec-Con vs IRLLRec",
                      extra_sections=None)   # or a function (AblationResult) -> list[Section]

``extra_sections`` lets a family add model-specific material to ``summary.md`` once all runs
are done, e.g. opening the best checkpoints with :func:`fuserec.train.runner.open_run` and
drawing :func:`fuserec.report.plots.projection_scatter` of item vectors with and without a
loss term (``result.run_dirs("variant")`` lists a variant's run folders).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import logging
import pkgutil
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from fuserec.config import to_dict
from fuserec.errors import ConfigError
from fuserec.io import atomic_write_json
from fuserec.report.collect import VARIANT_FILE, is_complete, read_variant_info, run_row, write_summary_outputs
from fuserec.report.markdown import Section
from fuserec.report.tables import Summary, aggregate, write_csv

log = logging.getLogger("fuserec.report")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]*$")


@dataclass(frozen=True)
class Variant:
    """One arm of an ablation.

    name: label and folder name (letters, digits, ``. _ + = -``).
    overrides: config changes, either a mapping of dotted keys to values
        (``{"model.dim": 32, "train.lr": 1e-3}``) or ``"key=value"`` strings (values read as YAML).
    model: registered model name.
    sweep: optional ``(parameter, value)``: variants sharing a parameter form one sweep plot.
    """

    name: str
    overrides: Mapping[str, Any] | Sequence[str]
    model: str
    sweep: tuple[str, float] | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"variant name {self.name!r} must be letters, digits and . _ + = - only")

    def override_strings(self) -> list[str]:
        """The overrides as ``key=value`` strings (mapping values are written as YAML flow)."""
        if isinstance(self.overrides, Mapping):
            import yaml

            return [f"{k}={yaml.safe_dump(to_dict(v), default_flow_style=True, width=10**6).strip()}"
                    .removesuffix("\n...") for k, v in self.overrides.items()]
        return [str(o) for o in self.overrides]


@dataclass
class AblationResult:
    """What :func:`run_ablation` produced.

    rows: one dict per run (see :func:`fuserec.report.collect.run_row`), in variant × seed order.
    summary: mean / std (ddof = 1) / n per variant of every test_* and valid_* metric.
    trained / skipped: run names (``<variant>-seed<k>``) trained in this call / found complete.
    """

    out_dir: Path
    variants: list[Variant]
    seeds: list[int]
    rows: list[dict[str, Any]]
    summary: Summary
    trained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)

    def run_dir(self, variant: str, seed: int) -> Path:
        return run_dir_of(self.out_dir, variant, seed)

    def run_dirs(self, variant: str) -> list[Path]:
        """The run folders of ``variant``, one per seed."""
        return [self.run_dir(variant, s) for s in self.seeds]


def run_dir_of(out_dir: str | Path, variant: str, seed: int) -> Path:
    return Path(out_dir) / "runs" / f"{variant}-seed{seed}"


def run_ablation(variants: Sequence[Variant], source: str | None, seeds: int | Sequence[int],
                 out_dir: str | Path, base_config: dict | None = None, threads: int | None = None,
                 progress: bool = True, *, title: str | None = None,
                 extra_sections: Callable[[AblationResult], Sequence[Section]] | None = None) -> AblationResult:
    """Train every variant with every seed into ``out_dir`` (resumably) and write the summary.

    source: dataset SOURCE (may be None when ``base_config`` has a ``dataset`` section).
    seeds: a count n (seeds 0..n-1) or explicit seed values (set as ``train.seed``).
    base_config: raw YAML-like mapping (dataset/model/train/eval) shared by all variants; a
        variant's overrides are applied on top of it.
    threads: if given, torch's intra-op thread count for the duration of the call (restored
        afterwards); None leaves it as it is. The count in use is recorded per run.
    progress: a progress bar over the runs (each run's own bar is off).
    extra_sections: called with the result before ``summary.md`` is written; its sections are appended.

    All configurations are resolved (and validated) before anything trains. A run whose folder
    holds a different configuration is a :class:`ConfigError` (use another ``out_dir``).
    A run that diverges (``TrainingDiverged``) is recorded with its error and left out of the means.
    """
    import torch

    from fuserec.data.sources import load_dataset
    from fuserec.train.runner import resolve_config, train_run
    from fuserec.train.trainer import TrainingDiverged

    variants = list(variants)
    if not variants:
        raise ConfigError("an ablation needs at least one variant")
    names = [v.name for v in variants]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"variant names must be unique; repeated: {', '.join(dupes)}")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise ConfigError(f"seeds must be a positive count or distinct values, got {seeds!r}", "seeds")
    out_dir = Path(out_dir)
    base = copy.deepcopy(base_config or {})

    plan = []   # (variant, seed, RunConfig, run dir)
    for v in variants:
        for seed in seed_list:
            try:
                cfg = resolve_config(base, model=v.model, source=source, overrides=v.override_strings(), seed=seed)
            except ConfigError as exc:
                raise ConfigError(f"variant {v.name}: {exc}") from None
            cfg.train.progress = False
            rd = run_dir_of(out_dir, v.name, seed)
            _check_same_config(rd, cfg)
            plan.append((v, seed, cfg, rd))
    atomic_write_json(out_dir / "ablation.json", {
        "source": source, "seeds": seed_list,
        "variants": [{"name": v.name, "model": v.model, "overrides": v.override_strings(),
                      "sweep": list(v.sweep) if v.sweep else None} for v in variants]})

    previous_threads = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ConfigError("must be at least 1", "threads")
        torch.set_num_threads(threads)
    rows: list[dict[str, Any]] = []
    trained, skipped = [], []
    datasets: dict[str, Any] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(plan), desc="ablation", unit="run", dynamic_ncols=True)
    try:
        for v, seed, cfg, rd in plan:
            run_name = rd.name
            if bar is not None:
                bar.set_postfix_str(run_name)
            if is_complete(rd) or read_variant_info(rd).get("error"):
                skipped.append(run_name)   # finished, or diverged (deterministic: it would diverge again)
                log.info("ablation: %s is complete, skipped", run_name)
            else:
                key = json.dumps(to_dict(cfg.dataset), sort_keys=True, default=str)
                if key not in datasets:
                    datasets[key] = load_dataset(cfg.dataset)
                log.info("ablation: training %s", run_name)
                start = time.perf_counter()
                error = None
                try:
                    train_run(cfg, rd, resume=True, dataset=datasets[key])
                except TrainingDiverged as exc:
                    error = str(exc)
                    log.warning("ablation: %s diverged: %s", run_name, exc)
                info = {"variant": v.name, "model": v.model, "seed": seed,
                        "seconds": time.perf_counter() - start, "threads": torch.get_num_threads()}
                if error:
                    info["error"] = error
                atomic_write_json(rd / VARIANT_FILE, info)
                trained.append(run_name)
            info = read_variant_info(rd)
            if info.get("error"):
                row = {"variant": v.name, "model": v.model, "seed": seed, "error": info["error"],
                       "run_dir": rd.relative_to(out_dir).as_posix()}
            else:
                row = run_row(rd, base=out_dir)
                row["variant"] = v.name
            rows.append(row)
            write_csv(out_dir / "results.csv", rows)   # progress is visible while the ablation runs
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if threads is not None:
            torch.set_num_threads(previous_threads)

    sweeps: dict[str, list[tuple[str, float]]] = {}
    for v in variants:
        if v.sweep is not None:
            sweeps.setdefault(str(v.sweep[0]), []).append((v.name, float(v.sweep[1])))
    result = AblationResult(out_dir, variants, seed_list, rows,
                            aggregate([r for r in rows if not r.get("error")]), trained, skipped)
    extra = list(extra_sections(result)) if extra_sections is not None else []
    intro = (f"- dataset: `{source if source is not None else base.get('dataset')}`\n"
             f"- seeds: {', '.join(map(str, seed_list))}\n"
             f"- variants: " + ", ".join(f"`{v.name}` ({v.model}"
                                         + (": " + ", ".join(v.override_strings()) if v.override_strings() else "")
                                         + ")" for v in variants) + "\n"
             f"- runs trained now: {len(trained)}, already complete: {len(skipped)}")
    summary, plots = write_summary_outputs(out_dir, rows, title or "Ablation", intro, sweeps, extra)
    result.summary, result.plots = summary, plots
    return result


def _comparable(config: dict) -> dict:
    config = copy.deepcopy(config)
    config.get("train", {}).pop("progress", None)
    return config


def _check_same_config(rd: Path, cfg) -> None:
    """ConfigError if ``rd`` holds a run of a different configuration than ``cfg``."""
    from fuserec.train.run_dir import RunDir
    from fuserec.train.runner import resolve_config

    run = RunDir(rd)
    if not run.config_path.is_file():
        return
    saved = _comparable(resolve_config(run.read_config()).to_dict())
    wanted = _comparable(cfg.to_dict())
    if saved != wanted:
        diffs = [f"{sec}.{k}: run has {saved[sec].get(k)!r}, now {wanted[sec].get(k)!r}"
                 for sec in wanted for k in sorted(set(saved.get(sec, {})) | set(wanted[sec]))
                 if saved.get(sec, {}).get(k) != wanted[sec].get(k)]
        raise ConfigError(f"{rd} holds a run with another configuration ({'; '.join(diffs)}); "
                          "use another output folder or delete that run")


# ---------------------------------------------------------------------- family registry
VariantBuilder = Callable[[str, "argparse.Namespace | None"], "list[Variant]"]


@dataclass(frozen=True)
class AblationFamily:
    """A named list of variants: ``builder(dataset_source, args)`` returns them (args: the CLI
    namespace, or None when called from code)."""

    name: str
    builder: VariantBuilder
    description: str = ""
    extra_sections: Callable[[AblationResult], Sequence[Section]] | None = None


class AblationRegistry:
    """Family name → :class:`AblationFamily`. A family not yet registered is looked for in the
    module ``fuserec.report.families.<name>`` (dashes read as underscores), imported on demand."""

    PACKAGE = "fuserec.report.families"

    def __init__(self) -> None:
        self._families: dict[str, AblationFamily] = {}

    def register(self, family: AblationFamily) -> None:
        old = self._families.get(family.name)
        if old is not None and old.builder is not family.builder:
            raise ValueError(f"ablation family {family.name!r} is already registered")
        self._families[family.name] = family

    def get(self, name: str) -> AblationFamily:
        if name not in self._families:
            module = f"{self.PACKAGE}.{name.replace('-', '_')}"
            if name.replace("-", "_") in self._module_names():
                importlib.import_module(module)
        if name not in self._families:
            import difflib

            names = self.names()
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown ablation family {name!r}{hint}; available: {', '.join(names)}")
        return self._families[name]

    def names(self) -> list[str]:
        """Registered families plus the family modules not imported yet."""
        return sorted(set(self._families) | set(self._module_names()))

    def _module_names(self) -> list[str]:
        package = importlib.import_module(self.PACKAGE)
        return [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]


REGISTRY = AblationRegistry()


def register_ablation(family: str, builder: VariantBuilder, *, description: str = "",
                      extra_sections: Callable[[AblationResult], Sequence[Section]] | None = None) -> None:
    """Register ``builder(dataset_source, args) -> list[Variant]`` under ``family``."""
    REGISTRY.register(AblationFamily(family, builder, description, extra_sections))


def get_ablation(family: str) -> AblationFamily:
    return REGISTRY.get(family)


def list_ablations() -> list[str]:
    return REGISTRY.names()


def select_variants(variants: list[Variant], wanted: Sequence[str] | None) -> list[Variant]:
    """The variants named in ``wanted`` (in the family's order); all when ``wanted`` is empty."""
    if not wanted:
        return variants
    known = [v.name for v in variants]
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ConfigError(f"unknown variant(s) {', '.join(unknown)} in --variants; this family has: {', '.join(known)}")
    return [v for v in variants if v.name in set(wanted)]


__all__ = ["AblationFamily", "AblationResult", "Variant", "get_ablation", "list_ablations", "register_ablation",
           "run_ablation", "run_dir_of", "select_variants"]
