"""Versioned prompt templates for the four kinds of text, kept in one place.

A text is identified by its *kind* (``profile`` or ``intent``) and *side* (``user`` or
``item``). Each template has a version string that is part of every cache key: change the
wording, bump the version, and every cached text made with the old wording is regenerated.

The model is asked for a JSON object with the fields listed in :data:`FIELDS`; the parser in
:mod:`fuserec.text.parsing` also accepts ``Field: value`` lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["profile", "intent"]
Side = Literal["user", "item"]

KINDS: tuple[str, ...] = ("profile", "intent")
SIDES: tuple[str, ...] = ("user", "item")

#: the parsed fields of each (kind, side)
FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("profile", "user"): ("summary", "reasoning"),
    ("profile", "item"): ("summary", "reasoning"),
    ("intent", "user"): ("likes", "dislikes"),
    ("intent", "item"): ("attracts", "repels"),
}


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt: a system message and a user message with a ``{context}`` slot."""

    kind: str
    side: str
    version: str
    system: str
    user: str

    @property
    def fields(self) -> tuple[str, ...]:
        return FIELDS[(self.kind, self.side)]

    def messages(self, context: str) -> list[dict[str, str]]:
        """Chat messages (OpenAI format) for one entity whose facts are rendered as ``context``."""
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.user.format(context=context)}]


_SYSTEM = ("You are an assistant that writes short, factual descriptions for a recommender "
           "system. Use only the facts given. Answer with one JSON object and nothing else.")

TEMPLATES: dict[tuple[str, str], PromptTemplate] = {
    ("profile", "item"): PromptTemplate(
        "profile", "item", "item-profile/v1", _SYSTEM,
        "Here are facts about an item: its metadata and what its users said in past reviews.\n"
        "{context}\n\n"
        "Describe what kind of user would enjoy this item. Reply with JSON: "
        '{{"summary": "<at most 100 words: who would enjoy it and why>", '
        '"reasoning": "<one or two sentences: which facts support the summary>"}}'),
    ("profile", "user"): PromptTemplate(
        "profile", "user", "user-profile/v1", _SYSTEM,
        "Here are facts about a user: the items they interacted with, their ratings and reviews.\n"
        "{context}\n\n"
        "Summarise this user's tastes. Reply with JSON: "
        '{{"summary": "<at most 100 words: what this user enjoys and avoids>", '
        '"reasoning": "<one or two sentences: which facts support the summary>"}}'),
    ("intent", "user"): PromptTemplate(
        "intent", "user", "user-intent/v1", _SYSTEM,
        "Here are facts about a user's past items and ratings.\n{context}\n\n"
        "Think in three steps: (1) extract the key attributes of the user's items; (2) split them "
        "into what the user likes (high ratings) and dislikes (low ratings); (3) write the intent. "
        'Reply with JSON: {{"likes": "<attributes the user likes>", '
        '"dislikes": "<attributes the user dislikes>"}} so that the sentence '
        '"The user likes <likes> and dislikes <dislikes>." reads well.'),
    ("intent", "item"): PromptTemplate(
        "intent", "item", "item-intent/v1", _SYSTEM,
        "Here are facts about an item and the users who rated it.\n{context}\n\n"
        "Think in three steps: (1) extract the key attributes of the item; (2) decide what it "
        "focuses on and what it lacks or opposes; (3) write the intent. Reply with JSON: "
        '{{"attracts": "<users it attracts, e.g. who enjoy ...>", '
        '"repels": "<users it repels, e.g. who want ...>"}} so that the sentence '
        '"It attracts users who <attracts> and repels users who <repels>." reads well.'),
}


def template_for(kind: str, side: str) -> PromptTemplate:
    """The template of ``(kind, side)``; ValueError for an unknown pair."""
    try:
        return TEMPLATES[(kind, side)]
    except KeyError:
        raise ValueError(f"unknown text kind/side {kind!r}/{side!r}; kinds: {KINDS}, sides: {SIDES}") from None


def render_context(facts: dict[str, Any]) -> str:
    """Render an entity's facts (see :mod:`fuserec.text.facts`) as readable lines for a prompt."""
    lines = []
    for key, value in facts.items():
        if key in ("id", "side") or value in (None, "", [], {}):
            continue
        label = key.replace("_", " ")
        if isinstance(value, dict):
            value = "; ".join(f"{k}: {_short(v)}" for k, v in value.items())
        elif isinstance(value, list):
            value = "; ".join(_short(v) for v in value)
        lines.append(f"- {label}: {value}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_short(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def final_text(kind: str, side: str, fields: dict[str, str]) -> str:
    """The one string that is embedded: the profile summary, or the intent sentence."""
    if kind == "profile":
        return fields["summary"].strip()
    if side == "user":
        return f"The user likes {fields['likes'].strip()} and dislikes {fields['dislikes'].strip()}."
    return (f"It attracts users who {fields['attracts'].strip()} and repels users who "
            f"{fields['repels'].strip()}.")
