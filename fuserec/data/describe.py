"""A short human description of an item: its side fields of note and the first sentence of its text."""

from __future__ import annotations

import re

import numpy as np

from fuserec.data.dataset import Dataset

#: A sentence ends at . ! or ? followed by white space, unless the period closes an initial or an
#: abbreviation ("L.A. Confidential", "J. R. R. Tolkien", "Mr. Holland's Opus"): the two
#: characters before it must be lower-case letters, digits or a closing bracket.
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]\"'][a-z0-9)\]\"'][.!?])\s+(?=[A-Z0-9\"'(])")

#: side fields shown before the text when the item has them (restaurants, films, products)
HEAD_FIELDS = ("cuisine", "price", "city", "genre", "genres", "category")


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (the whole text when it has one sentence)."""
    text = str(text).strip()
    return _SENTENCE_END.split(text, maxsplit=1)[0]


def describe_item(dataset: Dataset, item: int, width: int | None = 70, full_text: bool = False) -> str:
    """``cuisine / price / city: first sentence`` (the parts that exist), cut to ``width`` characters.

    ``full_text`` keeps the whole text instead of its first sentence; ``width=None`` never cuts.
    """
    parts = []
    if dataset.item_features is not None and len(dataset.item_features.columns):
        row = dataset.item_features.iloc[item]
        for column in HEAD_FIELDS:
            if column in row.index:
                value = row[column]
                parts.append(", ".join(map(str, value)) if isinstance(value, (list, tuple, np.ndarray))
                             else str(value))
    head = " / ".join(p for p in parts if p and p != "nan")
    text = str(dataset.item_text.iloc[item]).strip() if dataset.item_text is not None else ""
    if not full_text:
        text = first_sentence(text)
    out = f"{head}: {text}" if head and text else head or text
    if width is not None and len(out) > width:
        out = out[: width - 1] + "…"
    return out


def item_descriptions(dataset: Dataset, width: int | None = 70) -> np.ndarray:
    """(n_items,) str array of :func:`describe_item` for every item."""
    return np.asarray([describe_item(dataset, i, width) for i in range(dataset.n_items)], dtype=str)
