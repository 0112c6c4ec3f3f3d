"""Render README.md from README.template.md: every line ``@@ MODULE ARGS...`` is replaced by the
output of ``python -m MODULE ARGS...`` (run from the repository root), so that every table of the
README is printed by a command from the CSVs, per-user files and run folders, never typed.

    python docs/results/evidence/render.py            # RUNS=/path/to/run/root to read other run folders

``$RUNS`` in a line is the root of the evidence run folders (default ``runs/evidence``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def render(template: Path, out: Path, runs: str) -> None:
    lines = []
    for line in template.read_text(encoding="utf-8").splitlines():
        if not line.startswith("@@ "):
            lines.append(line)
            continue
        args = shlex.split(line[3:].replace("$RUNS", runs))
        result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                                env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if result.returncode != 0:
            raise SystemExit(f"{line}: exit {result.returncode}\n{result.stderr[-2000:]}")
        lines.append(result.stdout.strip("\n"))
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)


if __name__ == "__main__":
    render(HERE / "README.template.md", HERE / "README.md", os.environ.get("RUNS", "runs/evidence"))
