"""The project's own error types.

Every failure caused by a user's input (a file, a field, a config key) is raised as a
:class:`FuserecError` subclass carrying enough context to fix it; the CLI prints its message and
exits non-zero without a traceback.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


class FuserecError(Exception):
    """Base class of every error the CLI reports as a clean message (always one line: whitespace
    runs in the message, such as a newline inside a quoted column name, become one space)."""

    def __init__(self, message: object = "", *args: object):
        if isinstance(message, str):
            message = one_line(message, limit=100_000)
        super().__init__(message, *args)


class ConfigError(FuserecError):
    """A configuration key or value is invalid. ``key`` is the dotted path of the offending key."""

    def __init__(self, message: str, key: str | None = None):
        self.key = key
        super().__init__(f"config key '{key}': {message}" if key else message)


class DataError(FuserecError):
    """An input file is unusable.

    Args:
        message: what is wrong, in words a user can act on.
        path: the file (or folder) concerned.
        field: the column / JSON key / header field concerned, if any.
        row: the 1-based data row (for text files: line number) concerned, if any.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None,
                 field: str | None = None, row: int | None = None):
        self.path = None if path is None else str(path)
        self.field = field
        self.row = row
        where = []
        if self.path is not None:
            where.append(self.path)
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnsafePickleError(DataError):
    """A pickle asked for a class outside the allow-list; nothing from it was executed."""


def one_line(text: str, limit: int = 400) -> str:
    """``text`` as a single line: whitespace runs (newlines included) become one space; long
    texts are cut at ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


#: exception types that reading a hostile or broken file raises from numpy, pandas, pyarrow,
#: pickle, zipfile, codecs and torch; :func:`reading` turns each into a :class:`DataError`.
_READ_FAILURES: tuple[type[BaseException], ...] = (
    OSError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, LookupError,
    UnicodeError, MemoryError, OverflowError, RecursionError, RuntimeError, AssertionError,
)


@contextlib.contextmanager
def reading(path: str | os.PathLike | None, what: str = "file", field: str | None = None,
            row: int | None = None) -> Iterator[None]:
    """The one place where reading a file turns any failure into one :class:`DataError` line.

    Inside the block, a :class:`FuserecError` passes through unchanged (it already names the file,
    field and row); an ``OSError`` (missing, unreadable), a parser's ``ValueError``/``EOFError``,
    a ``KeyError``/``TypeError`` from a file with missing or mistyped keys, a ``MemoryError``
    from a size the file declared, and so on become ``DataError("cannot read <what>: <Type>:
    <reason>", path, field, row)`` chained to the original (``--debug`` shows it).

    Usage::

        with reading(path, "checkpoint"):
            state = torch.load(path, weights_only=True)
    """
    try:
        yield
    except FuserecError:
        raise
    except FileNotFoundError as exc:
        raise DataError("no such file", path or exc.filename, field, row) from exc
    except IsADirectoryError as exc:
        raise DataError(f"expected a {what}, found a folder", path or exc.filename, field, row) from exc
    except _READ_FAILURES as exc:
        raise DataError(f"cannot read {what}: {describe(exc)}", path, field, row) from exc


def describe(exc: BaseException) -> str:
    """``"Type: first meaningful line of the message"`` (or just the type when it says nothing)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, MemoryError):
        return "it declares a size larger than the memory available"
    if isinstance(exc, RecursionError):
        return "nesting too deep"
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if isinstance(exc, KeyError) and lines:
        return f"missing key {lines[0]}"
    if isinstance(exc, EOFError):
        return "the file ends too early (truncated or empty)"
    return f"{type(exc).__name__}: {one_line(lines[0])}" if lines else type(exc).__name__
