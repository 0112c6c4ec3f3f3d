"""``fuserec ablate``: train a family of variants × seeds and write one summary table and plots."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
families are lists of variants registered by the model families (`fuserec ablate --list`);
each variant is trained with every seed into OUT/runs/<variant>-seed<k>/. Re-running the same
command after an interruption trains only the runs that are not finished.

outputs: OUT/results.csv (one row per run), OUT/summary.csv and OUT/summary.md (mean ± sample
std over seeds, with n), OUT/plots/*.png.

examples:
  fuserec --threads 2 ablate baselines --dataset movielens:data/ml-100k --seeds 3 --epochs 20
  fuserec ablate irllrec --dataset irllrec:data/amazon --seeds 3 --variants lightgcn,irllrec
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ablate", help="train a family of variants over several seeds; mean ± std table and plots",
                       description="Train every variant of an ablation FAMILY on one dataset with several "
                                   "seeds and write results.csv, summary.md/csv (mean ± std, n) and plots.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("family", metavar="FAMILY", nargs="?", help="ablation family (see --list)")
    p.add_argument("--list", action="store_true", help="list the ablation families and exit")
    p.add_argument("--dataset", metavar="SOURCE", help="dataset SOURCE (see `fuserec --help`)")
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="number of seeds, 0..N-1 (default 3)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/ablate-<family>-<dataset>)")
    p.add_argument("--config", metavar="FILE",
                   help="YAML with dataset/model/train/eval sections shared by all variants")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", nargs="+", action="extend", default=[],
                   help="override config keys for every variant (a variant's own settings win)")
    p.add_argument("--variants", metavar="A,B,...", help="train only these variants of the family")
    p.add_argument("--epochs", type=int, metavar="N", help="shortcut for --set train.epochs=N")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fuserec.config import apply_overrides, load_yaml
    from fuserec.errors import ConfigError
    from fuserec.report.ablation import get_ablation, list_ablations, run_ablation, select_variants
    from fuserec.report.collect import headline
    from fuserec.report.tables import summary_markdown

    if args.list:
        for name in list_ablations():
            fam = get_ablation(name)
            print(f"{name:16s} {fam.description}")
        return 0
    if not args.family:
        raise ConfigError("give an ablation FAMILY (see `fuserec ablate --list`)")
    if args.seeds < 1:
        raise ConfigError("--seeds must be at least 1")
    base = load_yaml(args.config) if args.config else {}
    overrides = list(args.overrides)
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    base = apply_overrides(base, overrides)
    if args.config and isinstance(base.get("dataset"), dict) and base["dataset"].get("path"):
        path = Path(base["dataset"]["path"])
        if not path.is_absolute():
            base["dataset"]["path"] = str(Path(args.config).parent / path)
    if not args.dataset and not base.get("dataset"):
        raise ConfigError("no dataset given: use --dataset SOURCE (or a dataset: section in --config)")
    family = get_ablation(args.family)
    source = args.dataset
    variants = family.builder(source, args)
    wanted = [w.strip() for w in args.variants.split(",") if w.strip()] if args.variants else None
    variants = select_variants(variants, wanted)
    out = Path(args.out) if args.out else Path("runs") / f"ablate-{args.family}-{_dataset_label(source, base)}"
    result = run_ablation(variants, source, args.seeds, out, base_config=base,
                          progress=not (args.no_progress or args.quiet),
                          title=f"Ablation {args.family}", extra_sections=family.extra_sections)
    print(f"ablation: {out} ({len(result.trained)} runs trained, {len(result.skipped)} already complete)")
    print("test metrics at the best validation checkpoint (mean ± std over seeds):")
    test_cols = headline(result.summary.metrics, "test_", 6)
    print(summary_markdown(result.summary, test_cols, strip_prefix="test_"), end="")
    print(f"summary: {out / 'summary.md'}")
    return 0


def _dataset_label(source: str | None, base: dict) -> str:
    from fuserec.data.sources import parse_source

    cfg = parse_source(source if source is not None else base["dataset"])
    label = cfg.name or (Path(cfg.path).name if cfg.path else cfg.format)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
