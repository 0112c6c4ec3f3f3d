"""Every hand-built hostile or broken input (tests/hostile_cases.py) through the real CLI.

Each must end with exit code 2 and exactly one line on stderr, ``error: ...`` naming the file,
never a traceback, an internal error, a numpy warning or torch's advice to load with
``weights_only=False``; or, for the cases that only deserve a warning, exit 0 with a warning
naming the file. ``-s`` prints the count per class.
"""

from __future__ import annotations

from collections import Counter

import pytest

from fuserec.cli.main import main
from hostile_cases import CASES, CLASSES, Context, inter_csv

TRIED: Counter = Counter()
PASSED: Counter = Counter()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> Context:
    """A small trained MF run (the checkpoint cases tamper with copies of it)."""
    folder = tmp_path_factory.mktemp("hostile-run")
    (folder / "inter.csv").write_text(inter_csv(200))
    out = folder / "run"
    code = main(["-q", "train", "--model", "mf", "--dataset", f"csv:{folder / 'inter.csv'}", "--out", str(out),
                 "--no-progress", "--set", "train.epochs=1", "model.dim=4", "train.device=cpu"])
    assert code == 0
    return Context(run=out)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print("\nhostile inputs per class (tried / clean):")
    for cls in CLASSES:
        print(f"  {cls:15s} {TRIED[cls]:3d} / {PASSED[cls]:3d}")


def run_case(c, tmp_path, ctx, capsys) -> tuple[int, str, str]:
    work = tmp_path / "case"
    work.mkdir()
    argv = c.build(work, ctx)
    capsys.readouterr()
    code = main(["-q", *argv] if not c.warns else argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("c", CASES, ids=[f"{c.cls}:{c.name}" for c in CASES])
def test_hostile_input_gets_one_clean_line(c, tmp_path, ctx, capsys, caplog):
    TRIED[c.cls] += 1
    code, out, err = run_case(c, tmp_path, ctx, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == c.code, (code, err)
    assert "Traceback" not in err and "internal error" not in err and "weights_only" not in err
    assert "PAYLOAD-RAN" not in out + err
    if c.warns:
        text = out + err + caplog.text
        assert c.names in text and all(s in text for s in c.says), text
    else:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert c.names in lines[0], lines[0]
        assert all(s in lines[0] for s in c.says), lines[0]
    PASSED[c.cls] += 1


def test_warnings_are_held_back_when_the_command_fails(tmp_path, monkeypatch, capsys):
    """A numpy warning raised on the way to an error is not printed: the error stays one line."""
    import numpy as np

    import fuserec.data.sources as sources
    from fuserec.errors import DataError

    def load_dataset(source, split=True):
        np.float32(np.float64(1e300))  # numpy: "overflow encountered in cast"
        raise DataError("broken", tmp_path / "x.csv", row=3)

    monkeypatch.setattr(sources, "load_dataset", load_dataset)
    assert main(["data", "info", "anything"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: {tmp_path / 'x.csv'}, row 3: broken"], err


def test_warnings_are_shown_after_a_command_succeeds(tmp_path, monkeypatch, capsys):
    import numpy as np

    import fuserec.data.sources as sources

    real = sources.load_dataset

    def load_dataset(source, split=True):
        np.float32(np.float64(1e300))
        return real(source, split=split)

    monkeypatch.setattr(sources, "load_dataset", load_dataset)
    (tmp_path / "inter.csv").write_text(inter_csv())
    assert main(["-q", "data", "info", f"csv:{tmp_path / 'inter.csv'}"]) == 0
    err = capsys.readouterr().err
    assert "warning: RuntimeWarning: overflow encountered in cast" in err, err
