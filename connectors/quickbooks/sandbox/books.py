"""One company's records, read and written through ``Books``.

Records are stored in QuickBooks' own JSON shape (the XSD element names),
with amounts as decimal strings; keys starting with ``_`` are the sandbox's
private bookkeeping (a tax rate's account, a code's rates) and are never sent
out. Every write checks everything first and mutates after, so a refused
request leaves the books untouched.

Ids come from one counter per company, shared by every entity, and are never
reused. Times are written with Intuit's Pacific offset (``-07:00``), and
"today" is the date at that offset.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.company import EDITIONS
from connectors.quickbooks.sandbox.company import Edition

__all__ = ["INTUIT_TZ", "Books", "Record", "iso_stamp", "ref_to"]

Record = dict[str, Any]
INTUIT_TZ = datetime.timezone(datetime.timedelta(hours=-7))


def iso_stamp(epoch_s: float, *, millis: bool = False) -> str:
    """``2026-06-15T05:00:00-07:00`` (with ``.000`` when ``millis``)."""
    moment = datetime.datetime.fromtimestamp(epoch_s, INTUIT_TZ)
    return moment.isoformat(timespec="milliseconds" if millis else "seconds")


class Books:
    """The records of one company (realm)."""

    def __init__(self, realm: Record, now: Callable[[], float]) -> None:
        self.realm = realm
        self._now = now

    @property
    def realm_id(self) -> str:
        """The company id."""
        return str(self.realm["realm_id"])

    @property
    def edition(self) -> Edition:
        """The company's country setup."""
        return EDITIONS[self.realm["edition"]]

    @property
    def currency(self) -> Record:
        """The home currency as a reference."""
        code, name = self.edition.currency
        return {"value": code, "name": name}

    def table(self, entity: str) -> dict[str, Record]:
        """Id -> record for one entity."""
        table: dict[str, Record] = self.realm["entities"][entity]
        return table

    def records(self, entity: str) -> Iterator[Record]:
        """The records of ``entity``, in creation order (numeric Id order).

        The state file is written with sorted keys, so dict order does not
        survive a restart; the Id does.
        """
        return iter(sorted(self.table(entity).values(), key=_creation_order))

    def next_id(self) -> str:
        """A new Id."""
        self.realm["seq"] += 1
        return str(self.realm["seq"])

    def stamp(self) -> str:
        """Now, as a MetaData time."""
        return iso_stamp(self._now())

    def today(self) -> str:
        """Today's date, ISO."""
        return datetime.datetime.fromtimestamp(self._now(), INTUIT_TZ).date().isoformat()

    def key(self, name: str) -> str:
        """The Id of a seeded object (``account:ar``, ``code:gst_qst``...)."""
        return str(self.realm["keys"][name])

    def find(self, entity: str, ident: Any) -> Record | None:
        """The record, or None."""
        return self.table(entity).get(str(ident))

    def get(self, entity: str, ident: Any) -> Record:
        """The record.

        Raises:
            QboError: 610 when it does not exist.
        """
        record = self.find(entity, ident)
        if record is None:
            raise errors.not_found(entity, ident)
        return record

    def resolve(self, entity: str, ref: Any, element: str, *, active: bool = True) -> Record:
        """The record a ``{"value": Id}`` reference names.

        Raises:
            QboError: 2020 when the reference is missing, 2500 when it names
                nothing (or, with ``active``, an inactive object).
        """
        if not isinstance(ref, dict) or not ref.get("value"):
            raise errors.required(element)
        record = self.find(entity, ref["value"])
        if record is None:
            raise errors.invalid_reference(entity, ref["value"], element)
        if active and record.get("Active") is False:
            raise errors.invalid_reference(entity, ref["value"], element, inactive=True)
        return record

    def account(self, key: str) -> Record:
        """A seeded account by key (``ar``, ``uf``...)."""
        return self.get("Account", self.key(f"account:{key}"))

    def put(self, entity: str, record: Record) -> Record:
        """Store a record under its Id."""
        self.table(entity)[str(record["Id"])] = record
        return record

    def remove(self, entity: str, ident: Any) -> Record:
        """Delete a record; returns it."""
        return self.table(entity).pop(str(ident))

    def meta(self, previous: Record | None = None) -> Record:
        """A MetaData block: creation time kept from ``previous``, updated now."""
        now = self.stamp()
        created = previous["MetaData"]["CreateTime"] if previous else now
        return {"CreateTime": created, "LastUpdatedTime": now}


def _creation_order(record: Record) -> tuple[int, int, str]:
    ident = str(record["Id"])
    return (0, int(ident), "") if ident.isdigit() else (1, 0, ident)


def ref_to(record: Record, name_key: str = "Name") -> Record:
    """A reference to ``record``, with its display name."""
    return {"value": record["Id"], "name": record.get(name_key, "")}
