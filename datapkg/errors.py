"""Exceptions that end a command with a one-line message and a known exit code."""

from __future__ import annotations


class DpkgError(Exception):
    """An error that the CLI prints as one line and exits with ``exit_code``."""

    exit_code: int = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    def __reduce__(self) -> tuple[type, tuple[str, int]]:  # pickles whole (e.g. from a worker process)
        return type(self), (str(self), self.exit_code)


class UsageError(DpkgError):
    """Bad input: a wrong option, an unreadable or hostile path, a malformed descriptor (exit 2)."""

    exit_code = 2


class DataError(DpkgError):
    """The data itself is wrong: a hash mismatch, an invalid package (exit 1)."""

    exit_code = 1
