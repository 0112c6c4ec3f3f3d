"""Multi-process training: the one :class:`~fuserec.train.trainer.Trainer` under ``torchrun``.

A launch is detected from the environment ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). With ``WORLD_SIZE > 1``,
:func:`distributed_session` initialises the process group with backend ``nccl`` when the run's
device is CUDA (each process on ``cuda:LOCAL_RANK``) and ``gloo`` otherwise, and destroys it at
the end. Without those variables (or with ``WORLD_SIZE == 1``) nothing happens: a
single-process run has no process group and behaves exactly as before.

What the Trainer does with a :class:`DistContext` whose ``world_size > 1``:

* **Gradients.** The model is wrapped as ``DistributedDataParallel(LossForward(model))``:
  the Trainer calls ``model.loss(batch)``, and DDP hooks gradients only through ``forward``, so
  :class:`LossForward` makes ``loss`` the forward. Hooks (``on_step_end``, ``on_epoch_start``),
  evaluation, ``state_dict`` and checkpoints use the underlying model. ``find_unused_parameters``
  defaults to True (safe for models whose loss skips some parameters, such as frozen branches or
  optional terms); a model may set the class attribute ``ddp_find_unused_parameters = False``,
  and ``fuserec train --no-find-unused`` turns it off for a run. Sparse embedding gradients
  (``nn.Embedding(sparse=True)``) are all-reduced by ``gloo``; ``nccl`` has no sparse
  all-reduce, so use dense embeddings on GPUs.
* **Batches.** Every rank draws the *same* epoch (all randomness derives from (seed, epoch)) and
  keeps the batches ``i`` with ``i % world_size == rank``. The remainder
  (``n_batches % world_size`` batches at the end of the shuffled order) is dropped, so every rank
  takes exactly ``n_batches // world_size`` steps and no collective waits for a missing rank.
  One optimiser step therefore consumes ``world_size`` batches (DDP averages the gradients): the
  effective batch is ``world_size * batch_size``.
* **Loss terms** are per-example sums and counts, all-reduced: the epoch mean is over every rank's
  examples.
* **Evaluation.** A task with ``metric_sums`` (full ranking,
  :meth:`~fuserec.train.tasks.RankingTask.metric_sums`) is evaluated in shards: the evaluated
  users are split ``rank::world_size``, every rank sums its users' metrics, and the sums and the
  user count are all-reduced (:func:`all_reduce_means`) — the mean equals the
  single-process mean up to float summation order. Other tasks (pointwise: ROC-AUC and tuned
  thresholds do not decompose into per-user sums) are evaluated by rank 0 alone while the others
  wait. Either way the metrics are then broadcast from rank 0, so best-epoch and early-stopping
  decisions are identical on every rank.
* **Files.** Only rank 0 writes the run directory (config, checkpoints, metrics, curves, log,
  plots); all ranks read the same ``last.pt`` on resume and ``best.pt`` before the test
  evaluation (after a barrier).

A rank that raises (e.g. a diverged loss) leaves the others blocked in a collective; the launcher
(``torchrun`` or ``fuserec train --nproc``) then stops every process of the group.

The ``nccl`` path cannot be exercised on a CPU-only machine; it differs from the tested ``gloo``
path only in the backend name, ``torch.cuda.set_device(LOCAL_RANK)``, ``device_ids`` of DDP, and
the device of the tensors passed to collectives (:attr:`DistContext.collective_device`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

import torch
from torch import nn

from fuserec.errors import ConfigError, DataError

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class LaunchEnv:
    """What ``torchrun`` (or any ``env://`` launcher) put in the environment."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


def launch_env(environ: Mapping[str, str] | None = None) -> LaunchEnv | None:
    """The launch variables of ``environ`` (default ``os.environ``), or None when any is missing."""
    environ = os.environ if environ is None else environ
    if not all(environ.get(name) for name in LAUNCH_VARIABLES):
        return None
    try:
        env = LaunchEnv(int(environ["RANK"]), int(environ["WORLD_SIZE"]), int(environ["LOCAL_RANK"]),
                        environ["MASTER_ADDR"], int(environ["MASTER_PORT"]))
    except ValueError as exc:
        raise ConfigError(f"malformed torchrun environment: {exc}", "RANK/WORLD_SIZE/LOCAL_RANK") from None
    if env.world_size < 1 or not 0 <= env.rank < env.world_size or env.local_rank < 0:
        raise ConfigError(f"inconsistent torchrun environment: RANK={env.rank} WORLD_SIZE={env.world_size} "
                          f"LOCAL_RANK={env.local_rank}", "RANK")
    return env


def wants_cuda(device_name: str) -> bool:
    """Whether a ``train.device`` value (``auto``/``cpu``/``cuda``) means CUDA on this machine."""
    return device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())


def choose_backend(use_cuda: bool) -> str:
    """``nccl`` for CUDA runs where torch has it, else ``gloo``."""
    import torch.distributed as dist

    if use_cuda and torch.cuda.is_available() and dist.is_nccl_available():
        return "nccl"
    return "gloo"


@dataclass(frozen=True)
class DistContext:
    """This process's place in the group; ``world_size == 1`` (the default) means single-process.

    find_unused_parameters: DDP's option (None: the model's ``ddp_find_unused_parameters``
    attribute, default True).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    find_unused_parameters: bool | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def collective_device(self) -> torch.device:
        """Where tensors given to collectives live (CUDA for ``nccl``)."""
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")

    def device_for(self, device: torch.device) -> torch.device:
        """The per-process device: ``cuda:LOCAL_RANK`` for CUDA runs, otherwise ``device``."""
        if self.enabled and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if self.backend == "nccl":
                dist.barrier(device_ids=[self.local_rank])
            else:
                dist.barrier()

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        """``obj`` of rank ``src`` on every rank (picklable objects; identity when single-process)."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=src, device=self.collective_device)
        return box[0]

    def all_gather_object(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out


SINGLE_PROCESS = DistContext()


def context_from_process_group(find_unused_parameters: bool | None = None) -> DistContext:
    """The context of an already initialised process group (single-process if there is none)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return DistContext(find_unused_parameters=find_unused_parameters)
    env = launch_env()
    local_rank = env.local_rank if env is not None else dist.get_rank()
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, str(dist.get_backend()),
                       find_unused_parameters)


@contextlib.contextmanager
def distributed_session(device_name: str = "auto", *, find_unused_parameters: bool | None = None,
                        environ: Mapping[str, str] | None = None) -> Iterator[DistContext]:
    """Join the torchrun group for the block (and leave it after); single-process without a launch.

    An already initialised process group is used as it is and left initialised. Otherwise, when
    ``environ`` holds a launch with ``WORLD_SIZE > 1``, the group is initialised from ``env://``
    with :func:`choose_backend` (for CUDA: ``torch.cuda.set_device(LOCAL_RANK)`` first) and
    destroyed when the block ends.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        yield context_from_process_group(find_unused_parameters)
        return
    env = launch_env(environ)
    if env is None or env.world_size == 1:
        yield DistContext(find_unused_parameters=find_unused_parameters)
        return
    if not dist.is_available():
        raise ConfigError("this torch build has no torch.distributed; run a single process")
    use_cuda = wants_cuda(device_name)
    backend = choose_backend(use_cuda)
    if use_cuda:
        if env.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {env.local_rank} but only {torch.cuda.device_count()} CUDA devices; "
                              "start at most one process per GPU", "--nproc_per_node")
        torch.cuda.set_device(env.local_rank)
    dist.init_process_group(backend, init_method="env://", rank=env.rank, world_size=env.world_size)
    try:
        yield DistContext(env.rank, env.world_size, env.local_rank, backend, find_unused_parameters)
    finally:
        dist.destroy_process_group()


# ---------------------------------------------------------------------------- training
class LossForward(nn.Module):
    """``forward(batch) = module.loss(batch)``, so that DDP's gradient hooks see the loss."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.module.loss(batch)


def wrap_for_training(model: nn.Module, ctx: DistContext, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(LossForward(model))`` on ``device``; call it with a batch."""
    from torch.nn.parallel import DistributedDataParallel

    find_unused = ctx.find_unused_parameters
    if find_unused is None:
        find_unused = bool(getattr(model, "ddp_find_unused_parameters", True))
    device_ids = [device.index if device.index is not None else ctx.local_rank] if device.type == "cuda" else None
    return DistributedDataParallel(LossForward(model), device_ids=device_ids,
                                   find_unused_parameters=find_unused)


def batches_per_rank(n_batches: int, ctx: DistContext) -> int:
    """Steps per epoch on each rank: ``n_batches // world_size`` (ConfigError if that is 0)."""
    per_rank = n_batches // ctx.world_size
    if per_rank == 0:
        raise ConfigError(f"an epoch has {n_batches} batches, fewer than the {ctx.world_size} processes; "
                          "lower train.batch_size or start fewer processes", "train.batch_size")
    return per_rank


def shard_batches(batches: Iterable[Any], n_batches: int, ctx: DistContext) -> Iterator[Any]:
    """This rank's batches of an epoch: indices ``i ≡ rank (mod world_size)`` below
    ``batches_per_rank * world_size``. The iterator is consumed to its end on every rank, so the
    epoch's random generator ends in the same state as in a single-process run."""
    limit = batches_per_rank(n_batches, ctx) * ctx.world_size
    for i, batch in enumerate(batches):
        if i < limit and i % ctx.world_size == ctx.rank:
            yield batch


def all_reduce_sums(values: dict[str, float], ctx: DistContext) -> dict[str, float]:
    """Sum of each value over ranks (float64; every rank must pass the same keys in the same order)."""
    if not ctx.enabled:
        return dict(values)
    import torch.distributed as dist

    keys = list(values)
    names = ctx.all_gather_object(keys)
    if any(n != keys for n in names):
        raise DataError(f"ranks reduce different keys: {names}")
    packed = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=ctx.collective_device)
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    return dict(zip(keys, packed.cpu().tolist()))


def all_reduce_means(sums: dict[str, float], count: float, ctx: DistContext) -> tuple[dict[str, float], float]:
    """Global means from per-rank sums: ``(Σ_ranks sums[k] / Σ_ranks count for each k, Σ count)``.

    Args:
        sums: this rank's sum of each quantity over its items (users, examples).
        count: this rank's number of items.
    """
    total = all_reduce_sums({**sums, "\0count": float(count)}, ctx)
    n = total.pop("\0count")
    return {k: v / max(n, 1.0) for k, v in total.items()}, n


# ---------------------------------------------------------------------------- evaluation
def evaluate_across_ranks(task: Any, model: nn.Module, split: str, ctx: DistContext) -> dict[str, float]:
    """``task.evaluate(model, split)`` for the group; the result is rank 0's, on every rank.

    A task offering ``metric_sums(model, split, rank, world_size) -> (sums, count)`` (per-user
    sums over a shard of its users, e.g. full ranking) is evaluated in shards: every rank sums
    its users and the sums and counts are all-reduced (:func:`all_reduce_means`), plus
    ``n_users``. Other tasks are evaluated by rank 0 alone while the others wait. No concrete
    task type is named here.
    """
    if not ctx.enabled:
        return task.evaluate(model, split)
    partial = getattr(task, "metric_sums", None)
    if callable(partial):
        sums, count = partial(model, split, ctx.rank, ctx.world_size)
        metrics, n = all_reduce_means(sums, count, ctx)
        metrics["n_users"] = float(n)
    else:
        metrics = task.evaluate(model, split) if ctx.is_main else None
    return ctx.broadcast_object(metrics)


# ---------------------------------------------------------------------------- checks
def process_info(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Where this process runs: host name, pid, and torchrun's node rank (``GROUP_RANK``), local
    rank and processes per node; gathered over ranks it shows how a run was spread over nodes."""
    import socket

    environ = os.environ if environ is None else environ

    def number(name: str) -> int | None:
        value = environ.get(name, "")
        return int(value) if value.lstrip("-").isdigit() else None

    return {"host": socket.gethostname(), "pid": os.getpid(), "node_rank": number("GROUP_RANK"),
            "local_rank": number("LOCAL_RANK"), "local_world_size": number("LOCAL_WORLD_SIZE")}


def state_digest(model: nn.Module) -> str:
    """SHA-256 of the model's ``state_dict`` (names, dtypes, shapes and bytes): equal digests on all
    ranks mean identical parameters."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()
