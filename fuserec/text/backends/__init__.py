"""Text generator backends: ``template`` (no model), ``local`` (small offline LLM), ``openai`` (HTTP).

Every backend implements :class:`fuserec.text.backends.base.TextGenerator`.
"""

from __future__ import annotations

from typing import Any

from fuserec.text.backends.base import Failure, Prompt, TextGenerator

BACKENDS = ("template", "local", "openai")


def make_generator(backend: str, **options: Any) -> TextGenerator:
    """Build the generator named ``backend`` (heavy dependencies are imported only here)."""
    from fuserec.errors import ConfigError

    if backend == "template":
        from fuserec.text.backends.template import TemplateGenerator

        return TemplateGenerator(**options)
    if backend == "local":
        from fuserec.text.backends.local import LocalGenerator, LocalConfig

        return LocalGenerator(LocalConfig(**options))
    if backend == "openai":
        from fuserec.text.backends.openai import OpenAIConfig, OpenAIGenerator

        return OpenAIGenerator(OpenAIConfig.from_env(**options))
    raise ConfigError(f"unknown text backend {backend!r}; allowed: {', '.join(BACKENDS)}", "text.backend")


__all__ = ["BACKENDS", "Failure", "Prompt", "TextGenerator", "make_generator"]
