"""The command line: help for every sub-command, clean one-line errors, exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pandas as pd
import pytest

from fuserec.cli.main import build_parser, main
from fuserec.data import store
from fuserec.data.dataset import build_dataset
from fuserec.data.splits import SplitConfig


def _all_parsers(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _all_parsers(child, path + (name,))


def test_every_option_of_every_command_has_help():
    for path, parser in _all_parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"'fuserec {' '.join(path)}' option {action.option_strings or action.dest} has no help"


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "SOURCE" in capsys.readouterr().out


def test_bad_source_is_one_line_error_exit_2(capsys):
    code = main(["data", "info", "irllrec:/definitely/not/here"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "/definitely/not/here" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_subprocess_has_no_traceback(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("format: irllrec\npath: nowhere\nsplitt: {}\n")
    proc = subprocess.run([sys.executable, "-m", "fuserec", "data", "info", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "did you mean 'split'" in proc.stderr


def test_info_and_convert_on_a_stored_dataset(tmp_path, capsys):
    frame = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3], "item": [1, 2, 1, 3, 2, 3], "rating": [5, 4, 3, 2, 1, 5]})
    ds = build_dataset("tiny", frame, source="f").with_split(SplitConfig())
    store.save(ds, tmp_path / "tiny")
    assert main(["data", "info", f"fuserec:{tmp_path / 'tiny'}"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "interactions  6" in out
    assert main(["data", "convert", str(tmp_path / "tiny"), "--out", str(tmp_path / "copy")]) == 0
    assert (tmp_path / "copy" / "fuserec.json").exists()
    assert main(["data", "info", "--json", str(tmp_path / "copy")]) == 0


def test_atomic_writes_leave_no_temp_file_and_usual_permissions(tmp_path):
    import os

    from fuserec.io import _umask, atomic_write_json

    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_write_json(tmp_path / "a.json", {"x": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert (tmp_path / "a.json").read_text().strip().endswith("}")
    assert os.stat(tmp_path / "a.json").st_mode & 0o777 == 0o666 & ~_umask()
