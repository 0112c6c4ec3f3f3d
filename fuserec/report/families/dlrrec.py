"""The ``dlrrec`` ablation family (spec: dlrrec.md, "Baselines" and "Metrics and report").

Variants: ``dlrm`` (no semantic field), ``dlrm_raw`` (raw text vectors into the bottom MLP),
``two_step`` (frozen PCA to d), ``dlrrec-cotrain`` (w_uu = w_ii = 0), ``dlrrec-uu`` (only L_uu),
``dlrrec-ii`` (only L_ii), ``dlrrec`` (both), and the reduced-dimension sweep ``dlrrec-d16``,
``dlrrec-d64``, ``dlrrec-d128`` (both terms; ``dlrrec`` itself is the sweep's d = 32 point). The extra section draws a 2-D PCA projection of the reduced item
vectors of the first seed's best checkpoint, co-training only versus with the contrastive terms,
coloured by the item's first value of its first multi-valued (or token) item field; a collapse-watch
table and plot (mean pairwise cosine of z per epoch); and, where the dataset has the ground truth
``user_taste`` (the synthetic restaurants), a linear probe of every run's user vectors against it
(:mod:`fuserec.report.probe`; columns ``probe_r2`` / ``probe_pearson`` in results.csv and summary.csv).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from fuserec.errors import ConfigError
from fuserec.report.ablation import AblationResult, Variant, register_ablation
from fuserec.report.markdown import Section

log = logging.getLogger("fuserec.report")

SWEEP_DIMS = (16, 32, 64, 128)
DEFAULT_DIM = 32   # DLRRECConfig().dim


def dlrrec_variants(source: str, args: argparse.Namespace | None = None) -> list[Variant]:
    """Every arm of the DLRREC ablation (see the module docstring)."""
    return [
        Variant("dlrm", {}, "dlrm"),
        Variant("dlrm_raw", {}, "dlrm_raw"),
        Variant("two_step", {}, "two_step"),
        Variant("dlrrec-cotrain", {"model.w_uu": 0.0, "model.w_ii": 0.0}, "dlrrec"),
        Variant("dlrrec-uu", {"model.w_ii": 0.0}, "dlrrec"),
        Variant("dlrrec-ii", {"model.w_uu": 0.0}, "dlrrec"),
        # The full model at the default dimension is also the sweep's point at that dimension:
        # a separate ``dlrrec-d32`` would be the very same configuration trained twice.
        Variant("dlrrec", {}, "dlrrec", sweep=("model.dim", DEFAULT_DIM)),
        *[Variant(f"dlrrec-d{d}", {"model.dim": d}, "dlrrec", sweep=("model.dim", d))
          for d in SWEEP_DIMS if d != DEFAULT_DIM],
    ]


def projection_section(result: AblationResult) -> list[Section]:
    """2-D projection of the reduced item vectors before/after the contrastive terms."""
    from fuserec.report.plots import projection_scatter
    from fuserec.train.runner import open_run

    pairs = [("co-training only (w = 0)", "dlrrec-cotrain"), ("with L_uu + L_ii", "dlrrec")]
    names = {v.name for v in result.variants}
    if not all(v in names for _, v in pairs):
        return []
    seed = result.seeds[0]
    sets, dataset, field_name = {}, None, "label"
    for title, variant in pairs:
        run_dir = result.run_dir(variant, seed)
        if not (run_dir / "metrics.json").is_file():
            return []
        run = open_run(run_dir, dataset=dataset)
        dataset = run.dataset
        emb = run.model.embeddings()
        item_keys = [k for k in emb if k not in ("user", "item") and k in run.model.semantic_names["item"]]
        if not item_keys:
            return []
        sets[title] = emb[item_keys[0]].cpu().numpy()
    from fuserec.report.runs_report import item_categories

    labels, field_name = item_categories(dataset)
    path = projection_scatter(Path(result.out_dir) / "plots" / "item_projection.png", sets, labels,
                              title="reduced item vectors R(e) (2-D PCA)", label_name=field_name)
    text = (f"Reduced item vectors of seed {seed}'s best checkpoints, projected on their own first two "
            f"principal components and coloured by `{field_name}`: co-training only versus co-training "
            "with the SwING-InfoNCE terms.")
    return [Section("Reduced item vectors before and after the contrastive terms", text, images=[path])]


# ---------------------------------------------------------------------- collapse watch
def _read_curves(run_dir: Path) -> list[dict[str, float]]:
    import csv

    path = run_dir / "curves.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


def collapse_section(result: AblationResult) -> list[Section]:
    """Mean pairwise cosine of z (``valid_z_cos_user`` / ``valid_z_cos_item``, recorded at every
    validation evaluation, i.e. every epoch with the default ``train.eval_every = 1``): a table at
    the first, best and last epoch (mean ± std over seeds) and a per-epoch plot of the first seed."""
    from fuserec.report.plots import panel_curves

    keys = ("valid_z_cos_user", "valid_z_cos_item")
    table_rows, n_epochs = [], 0
    panels: dict[str, dict[str, list[float]]] = {"users": {}, "items": {}}
    for v in result.variants:
        per_seed = []
        for seed in result.seeds:
            rows = [r for r in _read_curves(result.run_dir(v.name, seed)) if any(k in r for k in keys)]
            if rows:
                best_epoch = next((r.get("best_epoch") for r in result.rows
                                   if r.get("variant") == v.name and r.get("seed") == seed), None)
                per_seed.append((seed, rows, best_epoch))
        if not per_seed:
            continue
        cells = [v.name, str(len(per_seed)), str(sum(len(rows) for _, rows, _ in per_seed) // len(per_seed))]
        for key in keys:
            for pick in ("first", "best", "last"):
                values = []
                for _, rows, best_epoch in per_seed:
                    if pick == "first":
                        row = rows[0]
                    elif pick == "last":
                        row = rows[-1]
                    else:
                        row = next((r for r in rows if best_epoch is not None and int(r["epoch"]) == int(best_epoch)),
                                   None)
                    if row is not None and key in row:
                        values.append(row[key])
                cells.append(_mean_std(values))
        table_rows.append(cells)
        _, rows, _ = per_seed[0]
        for key in keys:
            if any(key in r for r in rows):
                panels[key.split("_")[-1] + "s"][v.name] = [r.get(key, float("nan")) for r in rows]
        n_epochs = max(n_epochs, len(rows))
    if not table_rows:
        return []
    path = Path(result.out_dir) / "plots" / "collapse_watch.png"
    panel_curves(path, range(1, n_epochs + 1), panels,
                 f"mean pairwise cosine of z per epoch (seed {result.seeds[0]})", "cosine")
    headers = ["variant", "n", "epochs (mean)"] + [f"{k.split('_')[-1]} cos @{p}" for k in keys
                                                  for p in ("first", "best", "last")]
    text = ("Mean pairwise cosine of the normalised reduced vectors z = normalize(Σ_f R_f(e_f)) over a fixed "
            "sample of ≤ 1024 users / items, measured after every epoch (every validation evaluation; "
            "`train.eval_every` = 1). Near 1 means collapse; near 0, spread-out vectors. "
            "Mean ± std over seeds, at the first epoch, at the best validation epoch and at the last epoch run.")
    return [Section("Collapse watch", text, table=(headers, table_rows), images=[path])]


def _mean_std(values: list[float]) -> str:
    if not values:
        return ""
    arr = np.asarray(values, dtype=np.float64)
    return f"{arr.mean():.4f} ± {arr.std(ddof=1):.4f}" if len(arr) > 1 else f"{arr.mean():.4f}"


# ---------------------------------------------------------------------- linear probe
def user_probe_vectors(model) -> tuple[np.ndarray, str]:
    """The (n_users, p) user vectors a variant's probe reads, and what they are.

    Reduced semantic fields (``dlrrec``: the trained R_f; ``two_step``: the frozen PCA) give
    R_f(e_f) of the user fields, concatenated; ``dlrm_raw`` the raw user semantic vectors (a
    reference ceiling); a model without semantic fields (``dlrm``) its user id embedding.
    """
    import torch

    from fuserec.runtime import evaluating

    with evaluating(model):
        names = list(getattr(model, "semantic_names", {}).get("user", []))
        if names and len(model.reducers):
            parts = [model.reduced("user", name) for name in names]
            kind = "PCA" if getattr(model, "semantic_mode", "") == "pca" else "R_f"
            return torch.cat(parts, 1).cpu().numpy(), f"{kind}({', '.join(names)})"
        if names and getattr(model, "semantic_mode", "") == "raw":
            parts = [model.inputs["user"].semantic(k) for k in range(len(names))]
            return torch.cat(parts, 1).cpu().numpy(), f"raw {', '.join(names)}"
        emb = model.embeddings()
        if "user" not in emb:
            raise ConfigError("the model has neither user semantic fields nor a user id embedding to probe",
                              "model.features.include_ids")
        return emb["user"].cpu().numpy(), "user id embedding"


def probe_section(result: AblationResult, test_fraction: float = 0.2, probe_seed: int = 0) -> list[Section]:
    """Ridge probe from each run's user vectors to the true taste (synthetic data only).

    The same seeded 80/20 split of users serves every run; λ is chosen by 5-fold cross-validation
    on the training users. Adds ``probe_r2`` / ``probe_pearson`` / ``probe_ridge`` to every run's
    row (so they land in results.csv and summary.csv) and returns a table of their means.
    """
    from fuserec.report.probe import linear_probe
    from fuserec.report.tables import aggregate, summary_markdown
    from fuserec.train.runner import open_run

    dataset, target, described = None, None, {}
    for row in result.rows:
        if row.get("error"):
            continue
        run_dir = result.run_dir(row["variant"], int(row["seed"]))
        if not (run_dir / "metrics.json").is_file():
            continue
        run = open_run(run_dir, dataset=dataset)
        if dataset is None:
            dataset = run.dataset
            target = (dataset.ground_truth or {}).get("user_taste")
            if target is None:
                return []
            target = np.asarray(target, dtype=np.float64)
        features, what = user_probe_vectors(run.model)
        probe = linear_probe(features, target, test_fraction=test_fraction, seed=probe_seed)
        row.update({"probe_r2": probe.r2, "probe_pearson": probe.pearson, "probe_ridge": probe.ridge})
        described[row["variant"]] = f"{what} ({features.shape[1]}-d)"
        log.info("probe %s seed %s: R² %.4f, r %.4f (λ %g)", row["variant"], row["seed"], probe.r2,
                 probe.pearson, probe.ridge)
    if not described:
        return []
    summary = aggregate([r for r in result.rows if "probe_r2" in r], metrics=["probe_r2", "probe_pearson"])
    table = summary_markdown(summary, ["probe_r2", "probe_pearson"], strip_prefix="probe_")
    dims = dataset.meta.get("ground_truth_dims")
    text = (f"Ridge regression (closed form, λ by 5-fold cross-validation on the training users) from each "
            f"run's user vectors to the true taste vector `user_taste` ({target.shape[1]} dims"
            + (f": {', '.join(map(str, dims[:3]))}, …" if dims else "") + f"), fitted on a seeded random "
            f"{1 - test_fraction:.0%} of the {target.shape[0]} users and scored on the other {test_fraction:.0%}: "
            "held-out R² and Pearson r, each averaged over the taste dimensions; mean ± std over seeds.\n\n"
            "Features probed: " + "; ".join(f"`{v}`: {d}" for v, d in described.items()) + ".\n\n" + table)
    return [Section("Linear probe of the user vectors against the true taste", text)]


def dlrrec_sections(result: AblationResult) -> list[Section]:
    """All extra sections of the family: probe (synthetic only), collapse watch, projection."""
    return [*probe_section(result), *collapse_section(result), *projection_section(result)]


register_ablation("dlrrec", dlrrec_variants,
                  description="DLRM vs raw / two-step (PCA) / DLRREC co-training ± SwING-InfoNCE, dim sweep",
                  extra_sections=dlrrec_sections)
