"""What a trained model's whole user-side representation knows about the user's true taste.

The text probe (:func:`fuserec.evidence.text_probe`) reads the text vectors alone. Here the probe
reads everything a DLRM-family model feeds its interaction layer from the user side, for every
user: the id embedding and side-feature embeddings, the reduced text vectors R(e) (DLRREC,
two-step), and the user's dense inputs (the raw 384-d text vectors of ``dlrm_raw``):

    x_u = [ side_vectors(u) flattened (F_u · d) ; side_dense(u) ]          (n_users, F_u·d + n_dense_u)
    R² of a ridge probe x_u → true taste (synthetic world's ground truth), held-out users

It answers "did the text reach the representation?": a text-free ``dlrm`` knows the taste only
through what ids learned from a few ratings; a model fusing informative text should know more.

    python -m fuserec.evidence_probe RUN_ROOT/GRID/CELL     # a row per variant: R² mean ± std, per seed
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np
import torch


def user_side_representation(model: torch.nn.Module) -> np.ndarray:
    """``(n_users, F_u·d + n_dense_u)`` float64: every user-side input of a DLRM-family model."""
    users = torch.arange(model.n_users)
    with torch.no_grad():
        vectors = model.side_vectors("user", users).flatten(1)
        dense = model.side_dense("user", users)
    return torch.cat([vectors, dense], dim=1).double().numpy()


def representation_probe(run_dir: str | Path, seed: int = 0) -> float:
    """Held-out R² of the ridge probe from the run's user-side representation (best checkpoint)
    to the true taste of its synthetic world (rebuilt from the run's recorded dataset)."""
    from fuserec.data.sources import load_dataset
    from fuserec.report.probe import linear_probe
    from fuserec.train.runner import open_run

    loaded = open_run(run_dir, checkpoint="best")
    dataset = load_dataset(loaded.config.dataset, split=False)
    if dataset.ground_truth is None or "user_taste" not in dataset.ground_truth:
        raise ValueError(f"{run_dir}: its dataset has no ground-truth user taste (only the synthetic world has)")
    x = user_side_representation(loaded.model.eval())
    return linear_probe(x, dataset.ground_truth["user_taste"], seed=seed).r2


def probe_cell(cell_dir: str | Path, variants: Sequence[str] | None = None) -> list[dict[str, object]]:
    """One row per run directory ``<variant>-seed<k>`` of a cell (only ``variants`` when given):
    variant, seed, R²."""
    rows = []
    for run_dir in sorted(Path(cell_dir).iterdir()):
        if not (run_dir / "checkpoints" / "best.pt").is_file():
            continue                                    # not a finished run
        variant, _, seed = run_dir.name.rpartition("-seed")
        if variants and variant not in variants:
            continue
        rows.append({"variant": variant, "seed": int(seed), "r2": representation_probe(run_dir)})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuserec.evidence_probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("cell_dir", help="one cell folder of an evidence run root (RUN_ROOT/GRID/CELL)")
    parser.add_argument("--variants", nargs="*", help="only these variants")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = [r for r in probe_cell(args.cell_dir, args.variants)]
    print(f"| {Path(args.cell_dir).name}: variant | runs | R² mean ± std | per seed |")
    print("| :--- | ---: | ---: | :--- |")
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = sorted((r for r in rows if r["variant"] == variant), key=lambda r: r["seed"])
        r2 = np.array([r["r2"] for r in mine])
        spread = f"{r2.std(ddof=1):.4f}" if len(r2) > 1 else "–"
        print(f"| {variant} | {len(r2)} | {r2.mean():.4f} ± {spread} | "
              + ", ".join(f"{r['seed']}: {r['r2']:.3f}" for r in mine) + " |")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
