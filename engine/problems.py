"""Problems with input data, collected as values and shown together.

A ``Problem`` names where it is (line number, event id, field) and what is
wrong, in one line. Exceptions are kept for operational failures at I/O seams
(``LedgerError`` and its children).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one event of a batch."""

    line: int
    event_id: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}"]
        if self.event_id is not None:
            where.append(f"event {self.event_id!r}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}"


class LedgerError(Exception):
    """An operational failure while reading or writing a ledger."""


class LedgerNotFoundError(LedgerError):
    """The ledger folder or its main file does not exist."""


class ExternallyChangedError(LedgerError):
    """A ledger file was changed by something other than Partida."""
