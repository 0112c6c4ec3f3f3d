"""The ``text:`` section of a run configuration (YAML -> :class:`TextConfig` via ``fuserec.config.from_dict``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from fuserec.config import check_range
from fuserec.errors import ConfigError
from fuserec.text.generate import GenerationConfig


@dataclass
class TextConfig:
    """Where texts come from and how they are embedded.

    backend: ``template`` (default), ``local`` or ``openai``. cache_dir: cache folder (None:
    ``$FUSEREC_CACHE`` or ``.fuserec-cache``). encoder: a sentence-transformers model folder (None:
    bundled all-MiniLM-L6-v2). batch_size: encoder batch. on_failure: ``error`` or ``zero``.
    generation: retries, chunking. openai / local: options of those backends
    (:class:`fuserec.text.backends.openai.OpenAIConfig`, :class:`fuserec.text.backends.local.LocalConfig`).
    """

    backend: Literal["template", "local", "openai"] = "template"
    cache_dir: str | None = None
    encoder: str | None = None
    batch_size: int = 64
    on_failure: Literal["error", "zero"] = "error"
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    openai: dict[str, Any] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        check_range(self.batch_size, "text.batch_size", 1)
        self.generation.validate()
        from fuserec.config import from_dict
        from fuserec.text.backends.local import LocalConfig
        from fuserec.text.backends.openai import OpenAIConfig

        from_dict(OpenAIConfig, {"model": "x", **self.openai}, prefix="text.openai")
        from_dict(LocalConfig, self.local, prefix="text.local")

    def generator(self):
        """The configured generator (the openai backend also reads the environment)."""
        from fuserec.text.backends import make_generator

        options = self.openai if self.backend == "openai" else self.local if self.backend == "local" else {}
        return make_generator(self.backend, **options)


def embeddings_from_config(dataset, kind: str, side: str, config: TextConfig | None = None,
                           progress: bool = True) -> np.ndarray:
    """:func:`fuserec.text.text_embeddings` driven by a :class:`TextConfig`."""
    from fuserec.text.api import text_embeddings
    from fuserec.text.encode import SentenceEncoder

    config = config or TextConfig()
    if config.generation.limit is not None:
        raise ConfigError("embeddings cover every entity; leave text.generation.limit unset", "text.generation.limit")
    encoder = SentenceEncoder(config.encoder, batch_size=config.batch_size, show_progress=progress)
    return text_embeddings(dataset, kind, side, config.generator(), encoder, config.cache_dir, config.generation,
                           config.on_failure, progress)
