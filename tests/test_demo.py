"""``fuserec demo --quick``: the whole pipeline end to end, in-process, then again from its caches."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fuserec.cli.main import main
from fuserec.data.sources import load_dataset
from fuserec.demo import CLASSIFICATION, RANKING, dataset_config

LABELS = [label for label, _, _ in CLASSIFICATION] + list(RANKING)


def test_demo_quick_end_to_end_then_from_cache(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["--threads", "2", "demo", "--quick", "--out", str(out), "--seed", "3"]
    assert main(argv) == 0
    printed = capsys.readouterr().out

    # every stage reported with its time; nothing came from a cache on the first run
    for k in range(1, 9):
        assert re.search(rf"\[{k}/8\] .*: done in [0-9.]+ s \([0-9.]+ s CPU\)", printed), f"stage {k} missing"
    assert "stages from cache: none" in printed
    assert re.search(r"demo finished in [0-9.]+ s wall, [0-9.]+ s CPU \(user \+ sys\), counted from the start of the process; load average", printed)
    assert re.search(r"item-item: [0-9.]+% of 40 items have neighbours", printed)

    # the side-by-side tables name every model, with the reference rows
    for name in ("base rate (constant prediction)", "DLRM (ids only)", "two-step (PCA, then DLRM)", "DLRREC",
                 "DLRREC, shuffled text (control)", "popularity", "LightGCN", "IRLLRec"):
        assert f"| {name} |" in printed, name

    # one run directory per model, finished, with its label
    for label in LABELS:
        run = out / "runs" / label
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["test"], label
        assert json.loads((run / "ablation.json").read_text())["variant"] == label

    # the shuffled control reads the same vectors permuted across entities
    plain = np.load(out / "vectors" / "user_profile.npy")
    shuffled = np.load(out / "vectors" / "user_profile_shuffled.npy")
    perm = np.random.default_rng(3).permutation(len(plain))
    np.testing.assert_array_equal(shuffled, plain[perm])
    assert not np.array_equal(shuffled, plain)

    # the report: HTML and Markdown, every Markdown image present
    html, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    assert f"report: {out / 'report.html'}" in printed
    assert "<script" not in html and html.count("data:image/png;base64,") >= 4
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(images) >= 4 and all((out / i).is_file() for i in images)
    assert "DLRREC, shuffled text (control)" in md and "paired difference against two-step" in md

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
    dataset = load_dataset(dataset_config(3, "quick"))
    test = dataset.split_frame("test")
    liked = set(dataset.item_ids[test[(test["user"] == dataset.user_of(user)) & (test["rating"] >= 4)]["item"]])
    assert liked and len(recs) == 10
    assert [starred for _, starred in recs] == [item in liked for item, _ in recs]
    seen = set(dataset.item_ids[dataset.csr(["train", "valid"])[dataset.user_of(user)].indices])
    assert not seen & {item for item, _ in recs}

    # a re-run with nothing changed reads every stage but the world and the evaluation back
    mtimes = {label: (out / "runs" / label / "metrics.json").stat().st_mtime_ns for label in LABELS}
    assert main(argv) == 0
    again = capsys.readouterr().out
    for stage in ("profile and intent texts", "text vectors", "SWING", "classification", "ranking", "report"):
        assert re.search(rf"\] {stage}[^\n]*: from cache in", again), stage
    for label in LABELS:
        assert f"  {label}: from cache" in again
        assert (out / "runs" / label / "metrics.json").stat().st_mtime_ns == mtimes[label]
    assert again.split("classification (test split")[1].split("top-10")[0] == \
        printed.split("classification (test split")[1].split("top-10")[0]       # the same numbers


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
