"""The ``irllrec`` ablation family: which variants a dataset gets, and a tiny end-to-end ablation."""

from __future__ import annotations

import csv
import logging
from dataclasses import replace

import pytest

from fuserec.cli.main import main
from fuserec.data import store
from fuserec.data.dataset import build_dataset
from fuserec.report.ablation import get_ablation, run_ablation
from fuserec.report.families.irllrec import has_text_side, irllrec_variants
from train_toys import clustered_interactions

ALL_TEXT = ["mf", "lightgcn", "rlmrec_con", "irllrec", "irllrec-intent_tower", "irllrec-pair", "irllrec-trans",
            "irllrec-itm", "irllrec-kd", "irllrec-simgcl"]


def _tiny(with_text: bool):
    frame = clustered_interactions(n_users=40, n_items=48, n_groups=4, per_user=6, seed=3)
    item_text = None
    if with_text:
        genres = ["comedy", "drama", "horror", "western"]
        item_text = {f"i{i}": f"Movie {i}, a {genres[i // 12]} film" for i in range(48)}
    return build_dataset("tiny-text" if with_text else "tiny-bare", frame, source="<test>",
                         item_universe=None, item_text=item_text)


def test_text_dataset_gets_every_variant_with_the_spec_defaults():
    ds = _tiny(with_text=True)
    assert has_text_side(ds)
    variants = irllrec_variants(None, dataset=ds)
    assert [v.name for v in variants] == ALL_TEXT
    by_name = {v.name: v for v in variants}
    assert [by_name[n].model for n in ALL_TEXT] == ["mf", "lightgcn", "rlmrec_con"] + ["irllrec"] * 7
    for v in variants:
        o = dict(v.overrides)
        assert (o["train.eval_every"], o["train.patience"], o["train.monitor"]) == (3, 5, "recall@20")
    assert "model.aggregation" not in by_name["mf"].overrides
    for v in variants[1:]:                              # every graph variant: the reference's sum aggregation
        assert v.overrides["model.aggregation"] == "sum"
    assert by_name["rlmrec_con"].overrides["model.profile_source"] == "text:template"
    full = dict(by_name["irllrec"].overrides)
    assert (full["model.intent_source"], full["model.text_mode"]) == ("text:template", "batch")
    switches = {"intent_tower": "model.use_intent_tower", "pair": "model.use_pair", "trans": "model.use_trans",
                "itm": "model.use_itm", "kd": "model.use_kd"}
    for suffix, key in switches.items():
        o = dict(by_name[f"irllrec-{suffix}"].overrides)
        assert o[key] is False and {k: v for k, v in o.items() if k != key} == full
    assert by_name["irllrec-simgcl"].overrides["model.backbone"] == "simgcl"


def test_bare_dataset_gets_only_mf_and_lightgcn(caplog):
    ds = _tiny(with_text=False)
    assert not has_text_side(ds)
    with caplog.at_level(logging.WARNING, logger="fuserec.report"):
        variants = irllrec_variants(None, dataset=ds)
    assert [v.name for v in variants] == ["mf", "lightgcn"]
    assert "text variants" in caplog.text and "skipped" in caplog.text


def test_user_settings_win_over_the_family_defaults():
    class Args:
        overrides = ["train.eval_every=1", "model.aggregation=mean"]
        config = None

    variants = irllrec_variants(None, Args(), dataset=_tiny(with_text=True))
    for v in variants:
        assert "train.eval_every" not in v.overrides and v.overrides["train.patience"] == 5
        assert "model.aggregation" not in v.overrides


def test_tiny_ablation_end_to_end_fast(tmp_path):
    """lightgcn and the family's full irllrec arm, 1 seed × 1 epoch, through run_ablation. The text
    sources are swapped for seeded random vectors: loading the sentence encoder alone takes ~15 s
    (the same arm with ``text:template`` runs in the slow CLI test below)."""
    ds = _tiny(with_text=True)
    source = str(store.save(ds, tmp_path / "data" / "tiny"))
    arms = {v.name: v for v in irllrec_variants(source)}
    irl = arms["irllrec"]
    irl = replace(irl, overrides={**irl.overrides, "model.profile_source": "random:16",
                                  "model.intent_source": "random:24"})
    out = tmp_path / "abl"
    result = run_ablation([arms["lightgcn"], irl], source, 1, out, base_config={"train": {"epochs": 1, "batch_size": 64}},
                          progress=False, extra_sections=get_ablation("irllrec").extra_sections)
    assert result.trained == ["lightgcn-seed0", "irllrec-seed0"]
    assert [r["variant"] for r in result.rows] == ["lightgcn", "irllrec"]
    for r in result.rows:
        assert 0.0 <= r["test_recall@20"] <= 1.0
    header = (out / "runs" / "irllrec-seed0" / "curves.csv").read_text().splitlines()[0].split(",")
    for term in ("kd", "pair", "trans", "itm"):        # the text-side terms were really trained
        assert term in header
    assert "kd" not in (out / "runs" / "lightgcn-seed0" / "curves.csv").read_text().splitlines()[0].split(",")
    summary = (out / "summary.md").read_text()
    assert "irllrec" in summary and "lightgcn" in summary


@pytest.mark.slow
def test_tiny_ablation_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FUSEREC_CACHE", str(tmp_path / "cache"))
    source = str(store.save(_tiny(with_text=True), tmp_path / "data" / "tiny"))
    assert get_ablation("irllrec").builder is irllrec_variants
    out = tmp_path / "abl"
    argv = ["ablate", "irllrec", "--dataset", source, "--seeds", "1", "--epochs", "1", "--out", str(out),
            "--variants", "lightgcn,irllrec", "--set", "train.batch_size=64", "--no-progress"]
    assert main(argv) == 0
    assert "2 runs trained, 0 already complete" in capsys.readouterr().out
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["variant"] for r in rows] == ["lightgcn", "irllrec"]
    for r in rows:
        assert 0.0 <= float(r["test_recall@20"]) <= 1.0
    assert (out / "runs" / "irllrec-seed0" / "metrics.json").is_file()
    curves = (out / "runs" / "irllrec-seed0" / "curves.csv").read_text()
    for term in ("kd", "pair", "trans", "itm"):        # the text-side terms were really trained
        assert term in curves.splitlines()[0].split(",")
    summary = (out / "summary.md").read_text()
    assert "irllrec" in summary and "lightgcn" in summary


def test_irllrec_split_has_no_text(tmp_path):
    from helpers import real_data
    from fuserec.data.sources import load_dataset

    ds = load_dataset(f"irllrec:{real_data('irllrec', 'amazon')}")
    assert not has_text_side(ds)
    assert [v.name for v in irllrec_variants(None, dataset=ds)] == ["mf", "lightgcn"]


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
