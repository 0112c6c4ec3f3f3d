"""A report as data (sections of paragraphs, tables, figures, preformatted text), rendered to
Markdown and to one self-contained HTML page.

The HTML page has its CSS inline and every image embedded as a ``data:image/png;base64`` URI,
no script and no reference to anything outside the file, so it opens the same from disk, from a
mail attachment or offline. The Markdown file links the PNGs beside it (relative paths).
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

from fuserec.io import atomic_write_text
from fuserec.report.markdown import _relative
from fuserec.report.tables import markdown_table


@dataclass
class Paragraph:
    """Text with a little inline Markdown: ``code``, **bold**; blank lines separate paragraphs;
    lines starting with ``- `` are list items."""

    text: str


@dataclass
class Table:
    """headers (C,), rows (R, C) of strings; ``bold`` holds (row, column) cells to mark as best;
    ``align`` per column: ``l`` or ``r`` (default: first column left, the rest right)."""

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""
    bold: set[tuple[int, int]] = field(default_factory=set)
    align: Sequence[str] | None = None
    kind: str = ""   # a CSS class (e.g. "comparison"), also used by tests to find tables


@dataclass
class Figure:
    """A PNG file and its caption."""

    path: str | os.PathLike
    caption: str = ""


@dataclass
class Preformatted:
    text: str


Block = Union[Paragraph, Table, Figure, Preformatted]


@dataclass
class Section:
    heading: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)
    subtitle: str = ""

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]


# ---------------------------------------------------------------------- Markdown
def to_markdown(doc: Document, base: str | os.PathLike | None = None) -> str:
    """Markdown of ``doc``; images linked relative to ``base`` (the report's folder) when below it."""
    parts = [f"# {doc.title}\n"]
    if doc.subtitle:
        parts.append(doc.subtitle + "\n")
    for sec in doc.sections:
        parts.append(f"{'#' * sec.level} {sec.heading}\n")
        for block in sec.blocks:
            if isinstance(block, Paragraph):
                parts.append(block.text.rstrip() + "\n")
            elif isinstance(block, Preformatted):
                parts.append(f"```\n{block.text.rstrip()}\n```\n")
            elif isinstance(block, Figure):
                link = _relative(Path(block.path), Path(base) if base is not None else None)
                parts.append(f"![{Path(block.path).stem}]({link})\n")
                if block.caption:
                    parts.append(f"*{block.caption}*\n")
            elif isinstance(block, Table):
                cells = [[f"**{c}**" if (r, j) in block.bold and c else c for j, c in enumerate(row)]
                         for r, row in enumerate(block.rows)]
                align = list(block.align or ["l"] + ["r"] * (len(block.headers) - 1))
                if block.caption:
                    parts.append(block.caption.rstrip() + "\n")
                parts.append(markdown_table(block.headers, cells, align))
    return "\n".join(parts)


# ---------------------------------------------------------------------- HTML
CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 0;
       color: #1d2733; background: #f6f7f9; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #dde3ea; padding-bottom: 4px; margin-top: 2em; }
h3 { margin-top: 1.6em; }
p.subtitle { color: #5b6775; margin-top: 0; }
nav { background: #f0f3f6; padding: 8px 16px; border-radius: 6px; font-size: 0.92em; }
nav ul { margin: 4px 0; padding-left: 20px; }
div.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 18px; font-size: 0.9em; }
caption { caption-side: top; text-align: left; color: #44505e; padding-bottom: 4px; font-size: 0.95em; }
th, td { border: 1px solid #d5dbe2; padding: 4px 8px; vertical-align: top; }
th { background: #eef2f6; text-align: left; }
td.r { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.best { font-weight: 700; background: #e6f4ea; }
tr:nth-child(even) td { background-color: #fafbfc; }
tr:nth-child(even) td.best { background: #e6f4ea; }
figure { margin: 10px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e7ec; }
figcaption { color: #44505e; font-size: 0.9em; }
pre { background: #f3f5f7; padding: 10px; overflow-x: auto; font-size: 0.85em; }
code { background: #f0f2f4; padding: 0 3px; border-radius: 3px; }
"""


def to_html(doc: Document, embed_images: bool = True, base: str | os.PathLike | None = None) -> str:
    """One HTML page: inline CSS, images as data URIs (``embed_images``) or linked relative to ``base``."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           # no script, no remote anything: the page may only use what it holds
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data: 'self'; "
           "style-src 'unsafe-inline'\">",
           f"<title>{e(doc.title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>", "<main>",
           f"<h1>{e(doc.title)}</h1>"]
    if doc.subtitle:
        out.append(f'<p class="subtitle">{_inline(doc.subtitle)}</p>')
    out.append("<nav><strong>Contents</strong><ul>")
    open_sub = False
    for k, sec in enumerate(doc.sections):
        link = f'<a href="#s{k}">{e(sec.heading)}</a>'
        if sec.level <= 2:
            if open_sub:
                out.append("</ul></li>")
            out.append(f"<li>{link}<ul>")
            open_sub = True
        else:
            out.append(f"<li>{link}</li>")
    if open_sub:
        out.append("</ul></li>")
    out.append("</ul></nav>")
    for k, sec in enumerate(doc.sections):
        level = min(max(sec.level, 2), 4)
        out.append(f'<h{level} id="s{k}">{e(sec.heading)}</h{level}>')
        for block in sec.blocks:
            out.append(_block_html(block, embed_images, base))
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def _block_html(block: Block, embed_images: bool, base: str | os.PathLike | None) -> str:
    e = html.escape
    if isinstance(block, Paragraph):
        return _paragraphs(block.text)
    if isinstance(block, Preformatted):
        return f"<pre>{e(block.text.rstrip())}</pre>"
    if isinstance(block, Figure):
        path = Path(block.path)
        if embed_images:
            src = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        else:
            src = _relative(path, Path(base) if base is not None else None)
        alt = e(block.caption or path.stem)
        cap = f"<figcaption>{_inline(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure><img src="{e(src)}" alt="{alt}">{cap}</figure>'
    if isinstance(block, Table):
        align = list(block.align or ["l"] + ["r"] * (len(block.headers) - 1))
        parts = ['<div class="scroll">', f'<table class="{e(block.kind)}">' if block.kind else "<table>"]
        if block.caption:
            parts.append(f"<caption>{_inline(block.caption)}</caption>")
        parts.append("<thead><tr>" + "".join(f"<th>{e(str(h))}</th>" for h in block.headers) + "</tr></thead><tbody>")
        for r, row in enumerate(block.rows):
            cells = []
            for j, cell in enumerate(row):
                classes = (["r"] if align[j] == "r" else []) + (["best"] if (r, j) in block.bold and cell else [])
                cls = f' class="{" ".join(classes)}"' if classes else ""
                cells.append(f"<td{cls}>{_inline(str(cell))}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table></div>")
        return "\n".join(parts)
    raise TypeError(f"unknown block {type(block).__name__}")


_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def _inline(text: str) -> str:
    text = html.escape(text)
    text = _CODE.sub(r"<code>\1</code>", text)
    return _BOLD.sub(r"<strong>\1</strong>", text)


def _paragraphs(text: str) -> str:
    out = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = chunk.splitlines()
        if lines and all(line.startswith("- ") for line in lines):
            out.append("<ul>" + "".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "\n".join(out)


def write_document(doc: Document, out_dir: str | os.PathLike, stem: str = "report") -> tuple[Path, Path]:
    """Write ``OUT/<stem>.html`` (self-contained) and ``OUT/<stem>.md`` atomically; returns both paths."""
    out_dir = Path(out_dir)
    html_path, md_path = out_dir / f"{stem}.html", out_dir / f"{stem}.md"
    atomic_write_text(md_path, to_markdown(doc, base=out_dir))
    atomic_write_text(html_path, to_html(doc))
    return html_path, md_path
