"""``fuserec experiment``: several models × datasets × seeds in one command, resumable, one report
(:func:`fuserec.experiment.run_experiment`)."""

from __future__ import annotations

import argparse

EPILOG = """\
Give the experiment as a YAML file (see `fuserec.experiment` for its keys), as flags, or both (flags
add to / override the file). Every (dataset, model, seed) trains into OUT/<dataset>/runs/<model>-seed<k>/;
a finished run is skipped and an interrupted one resumes, so running the same command again trains
only what is missing. At the end OUT/report.html (self-contained) and OUT/report.md compare the models
per dataset: mean ± std over seeds, n, paired differences against a baseline with 95% intervals.

examples:
  fuserec --threads 2 experiment --models pop,mf,lightgcn --datasets movielens:../shared/data/movielens/ml-100k \\
      synthetic --seeds 3 --set train.epochs=200 train.patience=5 --out runs/exp
  fuserec experiment docs/results/experiment-example/experiment.yaml --out runs/exp-example
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", help="several models × datasets × seeds in one command, one HTML report",
                       description="Train several models (each with its settings) on one or more datasets with "
                                   "several seeds, resumably, and write one report comparing them per dataset.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", metavar="EXPERIMENT.yaml",
                   help="experiment file: datasets, models (with label / set / datasets), seeds, train, eval, "
                        "baseline, title")
    p.add_argument("--models", metavar="A,B,...",
                   help="registered model names (see `fuserec models`), added after the file's models")
    p.add_argument("--datasets", nargs="+", metavar="SOURCE", help="dataset SOURCEs (replace the file's datasets)")
    p.add_argument("--seeds", metavar="N|A,B,...", help="a count N (seeds 0..N-1) or a comma list (default 1)")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", nargs="+", action="extend", default=[],
                   help="train.* / eval.* / model.* settings for every model (a model's own set: wins)")
    p.add_argument("--baseline", action="append", default=[], metavar="NAME",
                   help="label of the paired differences' baseline (once per task allowed)")
    p.add_argument("--title", help="title of the report")
    p.add_argument("--out", required=True, metavar="DIR", help="experiment folder (runs, report.html, report.md)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import yaml

    from fuserec.errors import ConfigError
    from fuserec.experiment import load_experiment, parse_model, parse_seeds, run_experiment

    spec = load_experiment(args.config) if args.config else None
    if spec is None:
        from fuserec.experiment import ExperimentSpec

        spec = ExperimentSpec(models=[], datasets=[], seeds=[0])
    if args.models:
        spec.models += [parse_model(name.strip(), "--models") for name in args.models.split(",") if name.strip()]
    if args.datasets:
        spec.datasets = list(args.datasets)
    if args.seeds:
        text = args.seeds.strip()
        try:
            value = [int(s) for s in text.split(",")] if "," in text else int(text)
        except ValueError:
            raise ConfigError(f"expected a count or a comma list of integers, got {text!r}", "--seeds") from None
        spec.seeds = parse_seeds(value)
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(f"expected section.key=value, got {item!r}", "--set")
        section, name = key.split(".", 1)
        parsed = yaml.safe_load(value) if value else None
        if section == "train":
            spec.train[name] = parsed
        elif section == "eval":
            spec.eval[name] = parsed
        elif section == "model":
            for m in spec.models:
                m.overrides.setdefault(key, parsed)
        else:
            raise ConfigError(f"unknown section {section!r}; allowed: train, eval, model", "--set")
    if args.baseline:
        spec.baseline = list(args.baseline)
    if args.title:
        spec.title = args.title
    result = run_experiment(spec, Path(args.out), progress=not (args.no_progress or args.quiet),
                            log=lambda line: print(line, flush=True))
    print(f"experiment: {len(result.trained)} runs trained, {len(result.skipped)} already finished, "
          f"{result.seconds:.1f} s")
    print(f"report: {result.report} (and {result.report_md.name})")
    return 0
