"""IRLLRec's defaults train BPR on real data; without the gate on the text-side terms it does not.

From the reference code's Xavier init, without the gate w = min(1, (mean |e_u| / ρ)²), the cosine
alignment terms set Adam's steps from the first batch and BPR stays at ln 2 (see the docstring
of :mod:`fuserec.models.rlmrec_con`); the ungated run is the control that shows the test can fail. Seeded random 384-d text vectors stand in for the template
texts so that the test needs no sentence encoder; the trap shows with them as with real text.
"""

from __future__ import annotations

import csv
import math

import pytest
from helpers import real_data

from fuserec.train.runner import resolve_config, train_run


def _train(tmp_path, name: str, overrides: list[str]) -> tuple[list[float], float]:
    source = f"atomic:{real_data('movielens', 'ml-100k')}"
    config = resolve_config(model="irllrec", source=source, seed=3, overrides=[
        "model.profile_source=random:384", "model.intent_source=random:384",
        "train.epochs=3", "train.eval_every=3", "train.progress=false", *overrides])
    result = train_run(config, tmp_path / name)
    with open(tmp_path / name / "curves.csv", newline="") as f:
        bpr = [float(row["bpr"]) for row in csv.DictReader(f)]
    return bpr, float(result.test["recall@20"])


@pytest.mark.usefixtures("one_torch_thread")
def test_irllrec_defaults_train_on_ml100k_and_the_old_settings_do_not(tmp_path):
    bpr, recall = _train(tmp_path, "defaults", [])
    assert bpr[-1] < 0.5, bpr                     # BPR learns
    assert recall > 0.15                          # test recall@20, LightGCN level
    old_bpr, old_recall = _train(tmp_path, "no_gate", ["model.align_gate_norm=0"])
    assert min(old_bpr) > math.log(2) - 0.01, old_bpr     # stuck at ln 2
    assert old_recall < 0.5 * recall
