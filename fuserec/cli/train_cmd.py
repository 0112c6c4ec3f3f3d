"""``fuserec train``: train a registered model on a dataset into a run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
config file (YAML) sections:
  dataset:  a dataset config (format, path, options, filters, split, label_threshold); with
            --dataset, only the options/filters/split/... are taken from here
  model:    name (optional with --model) and the model's options (`fuserec models --details`)
  train:    epochs, batch_size, optimizer (adam|adamw|sgd|adagrad), lr, weight_decay, momentum,
            lr_schedule (none|step|cosine), lr_step_size, lr_gamma, grad_clip, eval_every,
            patience (0: no early stop), monitor (default recall@20 / roc_auc), mode (max|min),
            min_delta, seed, device (auto|cpu|cuda), progress, checkpoint_every
  eval:     ks (default [5, 10, 20]), mask_valid_at_test, batch_size

examples:
  fuserec --threads 2 train --model mf --dataset irllrec:data/amazon --set train.lr=0.001 model.dim=64
  fuserec train --model pop --dataset movielens:data/ml-100k --out runs/pop-ml100k
  fuserec train --out runs/pop-ml100k --resume        # continue an interrupted run

multi-process training (DistributedDataParallel; backend nccl for CUDA runs, gloo on CPU):
  torchrun --nproc_per_node 2 -m fuserec train --model mf --dataset synthetic --out runs/mf-ddp
  fuserec train --nproc 2 --model mf --dataset synthetic --out runs/mf-ddp   # same, no torchrun binary
  Each process takes every N-th batch of the same shuffled epoch (the last n_batches % N batches
  are dropped), so one step sees N batches: the effective batch is N * train.batch_size.
  Loss terms and ranking metrics are reduced across processes (pointwise metrics: computed by
  rank 0); only rank 0 writes the run directory. metrics.json gains a "distributed" entry with
  every rank's parameter digest. --nproc sets --threads to cores / N unless given.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a model and evaluate it (valid for model selection, test at the best epoch)",
        description="Train a registered model on a dataset. Writes a run directory with the resolved\n"
                    "config (config.yaml), metrics.json, curves.csv, checkpoints/{last,best}.pt,\n"
                    "train.log and plots/. The test split is evaluated at the best validation checkpoint.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="NAME",
                   help="registered model name (see `fuserec models`); may come from the config's model.name")
    p.add_argument("--dataset", metavar="SOURCE",
                   help="dataset SOURCE (see `fuserec --help`); may come from the config's dataset section")
    p.add_argument("--config", metavar="FILE", help="YAML file with dataset/model/train/eval sections")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", nargs="+", action="extend", default=[],
                   help="override config keys by dotted path, e.g. --set train.lr=0.01 model.dim=32 "
                        "(values read as YAML)")
    p.add_argument("--out", metavar="DIR",
                   help="run directory (default: runs/<model>-<dataset>-<YYYYmmdd-HHMMSS>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from checkpoints/last.pt (its saved config is used; "
                        "options given again must agree with it); starts fresh if there is no checkpoint")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (sets train.seed)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train with N local processes (DistributedDataParallel, like `torchrun "
                        "--nproc_per_node N -m fuserec train ...`, without needing the torchrun binary)")
    p.add_argument("--no-find-unused", action="store_true",
                   help="multi-process runs: DDP without find_unused_parameters (faster; only for models "
                        "whose loss uses every trainable parameter at every step)")
    p.set_defaults(func=run)


def _resolve(args: argparse.Namespace):
    from fuserec.config import load_yaml
    from fuserec.train.runner import resolve_config

    raw = load_yaml(args.config) if args.config else {}
    base_dir = Path(args.config).parent if args.config else None
    return resolve_config(raw, model=args.model, source=args.dataset, overrides=args.overrides,
                          seed=args.seed, base_dir=base_dir)


def run(args: argparse.Namespace) -> int:
    from fuserec.errors import ConfigError
    from fuserec.train.distributed import distributed_session, launch_env
    from fuserec.train.run_dir import RunDir
    from fuserec.train.runner import default_run_dir, resolve_config, train_run

    if args.nproc is not None:
        if args.nproc < 1:
            raise ConfigError(f"--nproc must be at least 1, got {args.nproc}")
        if args.nproc > 1:
            if launch_env() is not None:
                raise ConfigError("--nproc starts its own processes: do not combine it with torchrun")
            return _launch_local(args)
    given = any([args.model, args.dataset, args.config, args.overrides, args.seed is not None])
    if args.resume:
        if not args.out:
            raise ConfigError("--resume needs --out DIR (the run to continue)")
        rd = RunDir(args.out)
        if rd.config_path.is_file():
            config = resolve_config(rd.read_config())
            if given:
                _check_same(config, _resolve(args))
        elif not given:
            raise ConfigError(f"{args.out} holds no config.yaml; give --model and --dataset to start it")
        else:
            config = _resolve(args)
    else:
        config = _resolve(args)
        if args.out and RunDir(args.out).last_checkpoint.is_file():
            raise ConfigError(f"{args.out} already holds a run; use --resume to continue it or another --out")
    if args.no_progress or args.quiet:
        config.train.progress = False
    out = Path(args.out) if args.out else default_run_dir(config)
    find_unused = False if args.no_find_unused else None
    with distributed_session(config.train.device, find_unused_parameters=find_unused) as ctx:
        out = Path(ctx.broadcast_object(str(out)))  # rank 0's default name (a timestamp) for all
        if not ctx.is_main:
            config.train.progress = False
        with _quiet_unless(ctx.is_main):
            result = train_run(config, out, resume=args.resume, distributed=ctx)
    if not ctx.is_main:
        return 0
    best = result.metrics["best"]
    monitor = result.metrics["monitor"]
    best_value = (best.get("valid") or {}).get(monitor)
    print(f"run: {out}")
    print(f"epochs run: {result.epochs_run}{' (early stop)' if result.stopped_early else ''}; "
          f"best epoch: {result.best_epoch} ({monitor} = {best_value:.6g})" if best_value is not None
          else f"epochs run: {result.epochs_run}")
    print("test at best epoch: " + ", ".join(f"{k}={v:.6g}" for k, v in result.test.items() if k != "n_users"))
    return 0


def _quiet_unless(report: bool):
    """Silence INFO records of the ``fuserec`` logger in ranks other than 0 (they repeat rank 0's)."""
    import contextlib
    import logging

    if report:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def quiet():
        logger = logging.getLogger("fuserec")
        old = logger.level
        logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            logger.setLevel(old)

    return quiet()


def _child_argv(args: argparse.Namespace, out: str, threads: int) -> list[str]:
    """The ``fuserec`` command line each process of ``--nproc`` runs (without ``--nproc``)."""
    argv = ["--threads", str(threads)]
    if args.debug:
        argv.append("--debug")
    if args.quiet:
        argv.append("--quiet")
    argv += ["train", "--out", str(out)]
    for flag, value in (("--model", args.model), ("--dataset", args.dataset), ("--config", args.config),
                        ("--seed", args.seed)):
        if value is not None:
            argv += [flag, str(value)]
    for flag, on in (("--resume", args.resume), ("--no-progress", args.no_progress),
                     ("--no-find-unused", args.no_find_unused)):
        if on:
            argv.append(flag)
    if args.overrides:
        argv += ["--set", *args.overrides]
    return argv


def _launch_local(args: argparse.Namespace) -> int:
    """Run ``python -m fuserec train ...`` in ``args.nproc`` local processes with torch's elastic
    launcher (what ``torchrun --standalone`` does) and wait for them."""
    import os
    import sys
    import uuid

    from fuserec.errors import FuserecError
    from fuserec.train.runner import default_run_dir

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    out = args.out or str(default_run_dir(_resolve(args)))
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.nproc)
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=args.nproc,
                          run_id=f"fuserec-{uuid.uuid4().hex[:12]}", rdzv_backend="c10d",
                          rdzv_endpoint="localhost:0", max_restarts=0)
    try:
        elastic_launch(config, sys.executable)("-m", "fuserec", *_child_argv(args, out, threads))
    except ChildFailedError as exc:
        codes = ", ".join(f"rank {rank} exit code {failure.exitcode}" for rank, failure in sorted(exc.failures.items()))
        raise FuserecError(f"multi-process training failed ({codes}); see the messages above") from None
    return 0


def _check_same(saved, given) -> None:
    from fuserec.errors import ConfigError

    a, b = saved.to_dict(), given.to_dict()
    for cfg in (a, b):
        cfg["train"].pop("progress", None)
    diffs = [f"{section}.{key}: run has {a[section].get(key)!r}, given {b[section].get(key)!r}"
             for section in a for key in sorted(set(a[section]) | set(b[section]))
             if a[section].get(key) != b[section].get(key)]
    if diffs:
        raise ConfigError("--resume: the options given differ from the run's config.yaml: " + "; ".join(diffs))
