"""``fuserec demo --quick``: the whole pipeline end to end, in-process, then again from its caches;
the verdict's logic against :func:`fuserec.stats.paired_difference`."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from fuserec.cli.main import main
from fuserec.data.sources import load_dataset
from fuserec.demo import CLASSIFICATION, RANKING, WORLD_OPTIONS, dataset_config, demo_run_config
from fuserec.stats import paired_difference

LABELS = [a.name for a in CLASSIFICATION]
RANKING_LABELS = [a.name for a in RANKING]


def test_demo_world_is_informative_sparse_own_text():
    from fuserec.evidence import OWN_TEXT_FIELDS, SPARSE

    assert WORLD_OPTIONS["text_informativeness"] == 1.0 and 0 < WORLD_OPTIONS["text_nuisance"] < 1
    assert all(WORLD_OPTIONS[k] == v for k, v in SPARSE.items())
    by_label = {a.name: demo_run_config(a, 2, "demo") for a in CLASSIFICATION + RANKING}
    for label in ("two_step", "dlrrec", "dlrrec-shuffled"):
        assert by_label[label]["model"]["semantic"] == OWN_TEXT_FIELDS, label
    assert "semantic" not in by_label["dlrm"]["model"]
    assert by_label["dlrrec-shuffled"]["model"]["text_control"] == "shuffled"
    assert by_label["irllrec"]["model"]["profile_source"] == by_label["irllrec"]["model"]["intent_source"] == "metadata"
    # seed 2 varies the world, its texts, the split and the initialisation
    cfg = by_label["dlrrec"]
    assert cfg["dataset"]["options"]["seed"] == cfg["dataset"]["options"]["text_seed"] == 2
    assert cfg["dataset"]["split"]["seed"] == cfg["train"]["seed"] == cfg["model"]["seed"] == 2
    assert cfg["train"]["epochs"] >= 100 and cfg["train"]["patience"] >= 3   # early stopping, not a binding cap


def test_demo_quick_end_to_end_then_from_cache(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["--threads", "2", "demo", "--quick", "--out", str(out), "--seed", "3"]
    assert main(argv) == 0
    printed = capsys.readouterr().out

    # the world's settings first, then every stage with its time; nothing from a cache on the first run
    head = printed.split("[1/8]")[0]
    assert "World `quick`" in head and "text_informativeness=1.0" in head and "reviews_per_user=5.0" in head
    assert "Seeds 3, 4:" in head
    for k in range(1, 9):
        assert re.search(rf"\[{k}/8\] .*: done in [0-9.]+ s \([0-9.]+ s CPU\)", printed), f"stage {k} missing"
    assert "stages from cache: none" in printed
    assert re.search(r"demo finished in [0-9.]+ s wall, [0-9.]+ s CPU \(user \+ sys\), counted from the start of the process; load average", printed)
    assert re.search(r"item-item: [0-9.]+% of 40 items have neighbours", printed)

    # one run directory per model and seed, finished, with its label
    for seed in (3, 4):
        for label in LABELS:
            run = out / "runs" / f"seed{seed}" / label
            assert json.loads((run / "metrics.json").read_text())["test"], (label, seed)
            assert json.loads((run / "ablation.json").read_text())["variant"] == label
    for label in RANKING_LABELS:
        assert (out / "runs" / "seed3" / label / "metrics.json").is_file()
    assert not (out / "runs" / "seed4" / "lightgcn").exists()   # ranking on the first seed only

    # the verdict: one sentence per contrast, each with its interval over the 2 seeds; with a cap of
    # 2 epochs the runs that peaked there are named
    verdict = printed.split("[5/8] verdict ...")[1].split("[5/8] verdict:")[0]
    for model, baseline in (("dlrrec", "two_step"), ("dlrrec", "dlrm"), ("dlrrec-shuffled", "two_step"),
                            ("dlrrec-shuffled", "dlrm"), ("dlrrec", "dlrrec-shuffled")):
        assert re.search(rf"{model} beats {baseline} beyond seed noise: (yes|no|no, it is worse beyond seed noise) "
                         r"\(Δ [+-][0-9.]+ \[[+-][0-9.]+, [+-][0-9.]+\] over 2 seeds\)", verdict), (model, baseline)
    assert "runs whose best epoch sat at the epoch cap (not converged):" in verdict
    # ... and its numbers are fuserec.stats.paired_difference of the runs' test ROC-AUC, its words the rule lo > 0
    auc = {(label, seed): json.loads((out / "runs" / f"seed{seed}" / label / "metrics.json").read_text())["test"]["roc_auc"]
           for seed in (3, 4) for label in LABELS}
    for model, baseline in (("dlrrec", "two_step"), ("dlrrec", "dlrm")):
        mean, lo, hi = paired_difference([auc[model, s] for s in (3, 4)], [auc[baseline, s] for s in (3, 4)])
        answer = "yes" if lo > 0 else "no, it is worse beyond seed noise" if hi < 0 else "no"
        assert f"{model} beats {baseline} beyond seed noise: {answer} (Δ {mean:+.4f} [{lo:+.4f}, {hi:+.4f}] " \
               "over 2 seeds)" in verdict
    capped = [f"{label} seed {seed}" for seed in (3, 4) for label in LABELS
              if json.loads((out / "runs" / f"seed{seed}" / label / "metrics.json").read_text())["best"]["epoch"] == 2]
    assert verdict.rstrip().endswith("(not converged): " + (", ".join(capped) or "none"))

    # the shuffled control reads the own-text vectors permuted across entities (seeded by the run's seed)
    from fuserec.text.controls import apply_text_control
    from fuserec.train.runner import open_run

    own = np.load(out / "vectors" / "seed3_user.npy")
    dataset = load_dataset(dataset_config(3, "quick"))
    from fuserec.text.direct import entity_text_embeddings
    np.testing.assert_allclose(own, entity_text_embeddings(dataset, "user", cache_dir=out / "cache"), atol=1e-6)
    plain = open_run(out / "runs" / "seed3" / "dlrrec", dataset=dataset).inputs.array("semantic/user_text")
    shuffled = open_run(out / "runs" / "seed3" / "dlrrec-shuffled", dataset=dataset).inputs.array("semantic/user_text")
    np.testing.assert_array_equal(plain, own)
    np.testing.assert_array_equal(shuffled, apply_text_control(own, "shuffled", 3))
    assert not np.array_equal(shuffled, plain)

    # the report: the verdict section first, HTML and Markdown, every Markdown image present
    html, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    assert f"report: {out / 'report.html'}" in printed
    assert md.index("Verdict: does fusing text pay off here?") < md.index("Dataset: synthetic-quick-seed3")
    assert "text_informativeness=1.0" in md and "dlrrec beats two_step beyond seed noise:" in md
    assert "Verdict: does fusing text pay off here?" in html and 'class="verdict"' in html
    assert "<script" not in html and html.count("data:image/png;base64,") >= 4
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(images) >= 4 and all((out / i).is_file() for i in images)
    assert "DLRREC, shuffled text (control)" in md and "Bio: " in md

    # the same page in a real browser (when Chromium is installed): tables, images, no console error
    from fuserec.report.browser import check_page, find_chromium

    if find_chromium() is not None:
        page = check_page(out / "report.html", out / "screenshot.png")
        assert page.errors == [] and page.broken_images == [] and page.scripts == 0
        assert len(page.tables) == html.count("<table") >= 6 and len(page.images) == html.count("<img") >= 4
        assert (out / "screenshot.png").stat().st_size > 10_000

    # the starred recommendations are exactly the user's test positives among the top-10
    user = re.search(r"top-10 of user (\S+) by IRLLRec", printed).group(1)
    lines = printed.split(f"top-10 of user {user} by IRLLRec", 1)[1].splitlines()[1:11]
    recs = [(line.split()[1] if line.split()[1] != "*" else line.split()[2], "*" in line.split()[:2]) for line in lines]
    test = dataset.split_frame("test")
    liked = set(dataset.item_ids[test[(test["user"] == dataset.user_of(user)) & (test["rating"] >= 4)]["item"]])
    assert liked and len(recs) == 10
    assert [starred for _, starred in recs] == [item in liked for item, _ in recs]
    seen = set(dataset.item_ids[dataset.csr(["train", "valid"])[dataset.user_of(user)].indices])
    assert not seen & {item for item, _ in recs}

    # a re-run with nothing changed reads every stage but the world, the verdict and the evaluation back
    runs = [out / "runs" / f"seed{s}" / label for s in (3, 4) for label in LABELS]
    mtimes = {run: (run / "metrics.json").stat().st_mtime_ns for run in runs}
    assert main(argv) == 0
    again = capsys.readouterr().out
    for stage in ("own texts", "SWING", "classification", "ranking", "report"):
        assert re.search(rf"\] {stage}[^\n]*: from cache in", again), stage
    for run in runs:
        assert f"  {run.parent.name.replace('seed', 'seed ')} {run.name}: from cache" in again
        assert (run / "metrics.json").stat().st_mtime_ns == mtimes[run]
    assert again.split("[5/8] verdict ...")[1].split("[5/8] verdict:")[0] == verdict   # the same numbers


@pytest.mark.slow
def test_demo_verdict_matches_paired_difference(tmp_path):
    """The demo's verdict, recomputed from its run directories with fuserec.stats."""
    from fuserec.demo import run_demo

    result = run_demo(tmp_path / "demo", seed=0, quick=True, seeds=3, log=lambda line: None)
    auc = {}
    for (label, seed), run in result.seed_run_dirs.items():
        if label in LABELS:
            auc.setdefault(label, {})[seed] = json.loads((run / "metrics.json").read_text())["test"]["roc_auc"]
    assert sorted(auc["dlrrec"]) == [0, 1, 2]
    assert len(result.verdicts) == 5
    for v in result.verdicts:
        mean, lo, hi = paired_difference([auc[v.model][s] for s in (0, 1, 2)], [auc[v.baseline][s] for s in (0, 1, 2)])
        assert (v.delta, v.low, v.high, v.n) == pytest.approx((mean, lo, hi, 3))
        assert v.beyond_noise == (lo > 0)
        assert (v.model + " beats " + v.baseline + " beyond seed noise: " + ("yes" if lo > 0 else "no")) in \
            "\n".join(result.verdict_lines)
    for row in result.rows:   # the cap of 2 epochs binds exactly where the best epoch is the last one
        assert row["peaked_at_cap"] == (row["best_epoch"] == 2)


def _rows(deltas: dict[str, list[float]], base: list[float]) -> list[dict]:
    rows = [{"cell": "c", "variant": "two_step", "seed": s, "test_roc_auc": v, "best_epoch": 5, "peaked_at_cap": False}
            for s, v in enumerate(base)]
    for variant, d in deltas.items():
        rows += [{"cell": "c", "variant": variant, "seed": s, "test_roc_auc": b + x, "best_epoch": 5,
                  "peaked_at_cap": variant == "dlrm" and s == 1} for s, (b, x) in enumerate(zip(base, d))]
    return rows


@pytest.mark.parametrize("dlrrec_minus_two_step", [
    [0.020, 0.022, 0.018, 0.021, 0.019],     # a clear, steady gain
    [0.030, -0.025, 0.010, -0.005, 0.020],   # a gain within the seed noise
    [-0.020, -0.022, -0.018, -0.021, -0.019],  # a steady loss
    [0.01],                                 # one seed: no interval
])
def test_verdict_rule_against_paired_difference(dlrrec_minus_two_step):
    from fuserec.report.verdict import capped_runs, verdict_lines, verdicts

    rng = np.random.default_rng(0)
    n = len(dlrrec_minus_two_step)
    base = list(0.7 + 0.02 * rng.standard_normal(n))
    rows = _rows({"dlrrec": dlrrec_minus_two_step, "dlrm": list(0.01 * rng.standard_normal(n)),
                  "dlrrec-shuffled": list(0.005 * rng.standard_normal(n))}, base)
    by = {(r["variant"], r["seed"]): r["test_roc_auc"] for r in rows}
    found = {(v.model, v.baseline): v for v in verdicts(rows)}
    assert set(found) == {("dlrrec", "two_step"), ("dlrrec-shuffled", "two_step"), ("dlrrec", "dlrm"),
                          ("dlrrec-shuffled", "dlrm"), ("dlrrec", "dlrrec-shuffled")}
    for (model, baseline), v in found.items():
        mean, lo, hi = paired_difference([by[model, s] for s in range(n)], [by[baseline, s] for s in range(n)])
        assert v.delta == pytest.approx(mean) and v.n == n
        if n < 2:
            assert math.isnan(lo) and v.answer.startswith("cannot tell") and not v.beyond_noise
            continue
        assert (v.low, v.high) == pytest.approx((lo, hi))
        assert v.beyond_noise == (lo > 0)
        assert v.answer == ("yes" if lo > 0 else "no, it is worse beyond seed noise" if hi < 0 else "no")
    expected = {0: "yes", 1: "no", 2: "no, it is worse beyond seed noise", 3: "cannot tell"}
    key = [[0.020, 0.022, 0.018, 0.021, 0.019], [0.030, -0.025, 0.010, -0.005, 0.020],
           [-0.020, -0.022, -0.018, -0.021, -0.019], [0.01]].index(dlrrec_minus_two_step)
    assert found["dlrrec", "two_step"].answer.startswith(expected[key])
    text = "\n".join(verdict_lines(rows))
    assert found["dlrrec", "two_step"].sentence() in text
    assert capped_runs(rows) == (["dlrm seed 1"] if n > 1 else [])
    assert text.endswith("(not converged): " + (", ".join(capped_runs(rows)) or "none"))


def test_demo_rejects_bad_epochs(capsys):
    assert main(["demo", "--quick", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--epochs" in err and len(err.strip().splitlines()) == 1


def test_apply_text_control():
    from fuserec.errors import ConfigError
    from fuserec.text.controls import apply_text_control

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    assert apply_text_control(vectors, "none", 1) is vectors
    shuffled = apply_text_control(vectors, "shuffled", 5)
    np.testing.assert_array_equal(shuffled, vectors[np.random.default_rng(5).permutation(200)])
    rand = apply_text_control(vectors * 3 + 1, "random", 2)
    assert rand.shape == vectors.shape and rand.dtype == np.float32
    np.testing.assert_allclose(rand.mean(0), (vectors * 3 + 1).mean(0), atol=0.7)
    np.testing.assert_allclose(rand.std(0), (vectors * 3 + 1).std(0), rtol=0.25)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(apply_text_control(unit, "random", 2), axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(np.linalg.norm(apply_text_control(vectors, "random", 2), axis=1), 1.0)
    with pytest.raises(ConfigError):
        apply_text_control(vectors, "reversed", 0)
