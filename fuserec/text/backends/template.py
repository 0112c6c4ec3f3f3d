"""The ``template`` backend: deterministic text assembled from an entity's fact sheet, no model.

It answers in the same JSON format the prompts ask a language model for, so its replies go
through the same parser. Everything it writes comes from the fact sheet, which holds only
metadata and training statistics (see :mod:`fuserec.text.facts`).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from fuserec.text.backends.base import Failure, Prompt

VERSION = "template/v1"


class TemplateGenerator:
    """Deterministic writer of the four kinds of text (``model`` is the writer's version)."""

    name = "template"
    model = VERSION

    def generate(self, prompts: Sequence[Prompt]) -> list[str | Failure]:
        return [json.dumps(write_fields(p.kind, p.side, p.facts), ensure_ascii=False) for p in prompts]


def write_fields(kind: str, side: str, facts: dict[str, Any]) -> dict[str, str]:
    """The parsed fields of one text, written from ``facts``."""
    if kind == "profile":
        return _item_profile(facts) if side == "item" else _user_profile(facts)
    return _item_intent(facts) if side == "item" else _user_intent(facts)


# ---------------------------------------------------------------------------- pieces
def _attrs(mapping: dict[str, Any] | None, limit: int = 4, counts: bool = False) -> str:
    """``"class: Drama, Comedy; occupation: student"`` from a field -> values mapping."""
    if not mapping:
        return ""
    parts = []
    for name, values in list(mapping.items())[:limit]:
        vals = values if isinstance(values, list) else [values]
        if not counts:
            vals = [str(v).rsplit(" (", 1)[0] if str(v).endswith(")") else str(v) for v in vals]
        parts.append(f"{name.replace('_', ' ')}: {', '.join(str(v) for v in vals)}")
    return "; ".join(parts)


def _plain_values(mapping: dict[str, Any] | None, limit: int = 6) -> str:
    """The values of a field -> ["value (n)", ...] mapping without counts, most frequent first."""
    if not mapping:
        return ""
    values = []
    for vals in mapping.values():
        values.extend(str(v).rsplit(" (", 1)[0] for v in vals)
    seen: list[str] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return ", ".join(seen[:limit])


def _rating_phrase(f: dict[str, Any]) -> str:
    n = f.get("training_interactions", 0)
    if not n:
        return "It has no training interactions yet."
    if "mean_rating" in f:
        return (f"In training it was rated {n} times (mean {f['mean_rating']:g}; "
                f"{f.get('liked', 0)} liked, {f.get('disliked', 0)} disliked).")
    return f"It has {n} training interactions."


def _quote(f: dict[str, Any], k: int = 1) -> str:
    reviews = f.get("reviews") or []
    return " ".join(f'A reviewer wrote: "{r}"' for r in reviews[:k])


def _cap(text: str, words: int = 100) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words]) + " …"


# ---------------------------------------------------------------------------- the four texts
def _item_profile(f: dict[str, Any]) -> dict[str, str]:
    attrs = _attrs(f.get("attributes"))
    head = f"{f.get('title', 'This item')}" + (f" ({attrs})" if attrs else "") + "."
    liked_by = _attrs(f.get("liked_by"), counts=False)
    disliked_by = _attrs(f.get("disliked_by"), counts=False)
    who = f"It suits users like those who rated it highly ({liked_by})." if liked_by else ""
    if disliked_by:
        who += f" Users who rated it low were mostly {disliked_by}."
    desc = f.get("description", "")
    if desc.startswith(str(f.get("title", "")).rstrip(" …")):
        desc = ""  # the metadata text only repeats the title and attributes
    summary = _cap(" ".join(s for s in (head, desc[:200], _rating_phrase(f), who, _quote(f)) if s))
    reasoning = ("Written from the item's metadata"
                 + (f", {f['training_interactions']} training interactions" if f.get("training_interactions") else "")
                 + (f" and {len(f['reviews'])} training review(s)" if f.get("reviews") else "") + ".")
    return {"summary": summary, "reasoning": reasoning}


def _user_profile(f: dict[str, Any]) -> dict[str, str]:
    n = f.get("training_interactions", 0)
    own = _attrs(f.get("attributes"), limit=3)
    head = f"A user ({own})" if own else "A user"
    if "mean_rating" in f:
        head += f" who rated {n} items in training (mean {f['mean_rating']:g})."
    else:
        head += f" with {n} training interactions."
    fav = _attrs(f.get("favourite_attributes"), limit=3)
    parts = [head]
    if fav:
        parts.append(f"Their items are mostly {fav}.")
    if f.get("liked_items"):
        parts.append(f"They enjoyed {', '.join(f['liked_items'])}.")
    if f.get("disliked_items"):
        parts.append(f"They disliked {', '.join(f['disliked_items'])}.")
    quote = _quote(f)
    if quote:
        parts.append(quote.replace("A reviewer wrote", "In their words"))
    summary = _cap(" ".join(parts))
    reasoning = (f"Written from {n} training interactions"
                 + (" with ratings" if "mean_rating" in f else "")
                 + (f" and {len(f['reviews'])} of the user's training reviews" if f.get("reviews") else "") + ".")
    return {"summary": summary, "reasoning": reasoning}


def _shares(mapping: dict[str, Any] | None, labelled: bool) -> dict[str, float]:
    """``{"value": share}`` from a field -> ["value (n)", ...] mapping: each count over its field's total."""
    out: dict[str, float] = {}
    for name, vals in (mapping or {}).items():
        parsed = []
        for v in vals:
            value, _, n = str(v).rpartition(" (")
            if value and n.rstrip(")").isdigit():
                parsed.append((value, int(n.rstrip(")"))))
        total = sum(n for _, n in parsed) or 1
        for value, n in parsed:
            key = f"{name.replace('_', ' ')} {value}" if labelled else value
            out[key] = out.get(key, 0.0) + n / total
    return out


def _contrast(mine: dict[str, Any] | None, other: dict[str, Any] | None, limit: int = 5,
              labelled: bool = False) -> str:
    """Values with a larger share in ``mine`` than in ``other`` (step 2 of the intent: like vs dislike),
    the largest difference first."""
    a, b = _shares(mine, labelled), _shares(other, labelled)
    ranked = sorted((v for v in a if a[v] > b.get(v, 0.0) + 1e-9), key=lambda v: (-(a[v] - b.get(v, 0.0)), v))
    return ", ".join(ranked[:limit])


def _user_intent(f: dict[str, Any]) -> dict[str, str]:
    likes = _contrast(f.get("liked_attributes"), f.get("disliked_attributes"))
    if f.get("liked_items"):
        examples = ", ".join(f["liked_items"][:2])
        likes = f"{likes} (e.g. {examples})" if likes else f"items such as {examples}"
    dislikes = _contrast(f.get("disliked_attributes"), f.get("liked_attributes"))
    if f.get("disliked_items"):
        examples = ", ".join(f["disliked_items"][:2])
        dislikes = f"{dislikes} (e.g. {examples})" if dislikes else f"items such as {examples}"
    return {"likes": likes or "nothing in particular yet",
            "dislikes": dislikes or "nothing in particular (no low ratings in training)"}


def _item_intent(f: dict[str, Any]) -> dict[str, str]:
    attrs = f.get("attributes") or {}
    own = "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in list(attrs.items())[:4])
    attracts = f"enjoy {own}" if own else f"enjoy {f.get('title', 'this item')}"
    liked = _contrast(f.get("liked_by"), f.get("disliked_by"), limit=4, labelled=True)
    if liked:
        attracts += f", mostly {liked}"
    disliked = _contrast(f.get("disliked_by"), f.get("liked_by"), limit=4, labelled=True)
    repels = f"look for something other than {own}" if own else "look for something else"
    if disliked:
        repels += f", mostly {disliked}"
    elif "mean_rating" in f:
        repels += " (no group of users rated it low in training)"
    return {"attracts": attracts, "repels": repels}
