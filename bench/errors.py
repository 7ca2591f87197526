"""User-facing errors: one clear line, no traceback.

Everything a user can get wrong (a missing file, a malformed line, an unknown name, an incompatible
dataset/method pair) raises :class:`XRBenchError`. The CLI prints ``xrbench: error: <message>`` and
exits with status 2; the Python API lets the exception propagate.
"""
from __future__ import annotations


class XRBenchError(Exception):
    """An error caused by the user's input, with a message that says what to do."""


class DataError(XRBenchError):
    """A data file is missing, unreadable or malformed."""

    def __init__(self, message: str, *, path: object | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.path, self.line, self.field = path, line, field


class UnknownNameError(XRBenchError):
    """A registry name that does not exist."""


class IncompatibleError(XRBenchError):
    """A method needs data the dataset does not provide."""


class DatasetUnavailable(XRBenchError):
    """No local copy and no download: the dataset cannot be used in this run."""
