"""The ``baselines`` ablation family: popularity and matrix factorisation (BPR), any ranking dataset."""

from __future__ import annotations

import argparse

from fuserec.report.ablation import Variant, register_ablation


def baseline_variants(source: str, args: argparse.Namespace | None = None) -> list[Variant]:
    """``pop`` (no training) and ``mf`` (BPR matrix factorisation with its default config)."""
    return [Variant("pop", {}, "pop"), Variant("mf", {}, "mf")]


register_ablation("baselines", baseline_variants, description="popularity and BPR-MF baselines")
