"""The project's own error types.

Every failure caused by a user's input (a file, a field, a config key) is raised as a
:class:`FuserecError` subclass carrying enough context to fix it; the CLI prints its message and
exits non-zero without a traceback.
"""

from __future__ import annotations

import os


class FuserecError(Exception):
    """Base class of every error the CLI reports as a clean message."""


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
