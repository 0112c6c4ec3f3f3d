"""A small Markdown report: a title and sections of text, tables and images, written atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from fuserec.io import atomic_write_text
from fuserec.report.tables import markdown_table


@dataclass
class Section:
    """One ``## heading`` of a report.

    text: Markdown paragraphs, written as given.
    table: optional (headers, rows) drawn with :func:`~fuserec.report.tables.markdown_table`.
    images: PNG paths, linked relative to the report's folder when they lie beneath it.
    """

    heading: str
    text: str = ""
    table: tuple[Sequence[str], Sequence[Sequence[object]]] | None = None
    images: list[str | os.PathLike] = field(default_factory=list)


def render_markdown_report(title: str, sections: Sequence[Section | tuple[str, str]],
                           base: str | os.PathLike | None = None) -> str:
    """The report's Markdown text. Sections may be :class:`Section` or ``(heading, text)`` pairs."""
    parts = [f"# {title}\n"]
    for sec in sections:
        if not isinstance(sec, Section):
            heading, text = sec
            sec = Section(heading, text)
        parts.append(f"## {sec.heading}\n")
        if sec.text:
            parts.append(sec.text.rstrip("\n") + "\n")
        if sec.table is not None:
            headers, rows = sec.table
            parts.append(markdown_table(headers, rows))
        for image in sec.images:
            link = _relative(Path(image), Path(base) if base is not None else None)
            parts.append(f"![{Path(image).stem}]({link})\n")
    return "\n".join(parts)


def write_markdown_report(path: str | os.PathLike, title: str,
                          sections: Sequence[Section | tuple[str, str]]) -> Path:
    """Write :func:`render_markdown_report` to ``path`` atomically; images are linked relative to it."""
    path = Path(path)
    atomic_write_text(path, render_markdown_report(title, sections, base=path.parent))
    return path


def _relative(image: Path, base: Path | None) -> str:
    if base is None:
        return image.as_posix()
    try:
        return image.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return image.as_posix()
