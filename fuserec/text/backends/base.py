"""The one interface every text generator implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class Prompt:
    """What a generator is asked for one entity.

    key: the entity's raw id. kind/side: which text. facts: the entity's fact sheet
    (:mod:`fuserec.text.facts`, training data and metadata only). messages: the chat messages
    rendered from the versioned template. attempt: 0 for the first try, then 1, 2, ... (a
    sampling backend varies its seed with it).
    """

    key: str
    kind: str
    side: str
    facts: dict[str, Any]
    messages: list[dict[str, str]] = field(default_factory=list)
    attempt: int = 0


@dataclass(frozen=True)
class Failure:
    """A backend gave up on one prompt (after its own transport retries); ``reason`` says why."""

    reason: str


@runtime_checkable
class TextGenerator(Protocol):
    """``generate(prompts)`` returns one raw reply string per prompt, in order, or a
    :class:`Failure` for a prompt the backend could not answer. ``name`` and ``model`` are part
    of the cache key."""

    name: str
    model: str

    def generate(self, prompts: Sequence[Prompt]) -> list[str | Failure]:
        ...
