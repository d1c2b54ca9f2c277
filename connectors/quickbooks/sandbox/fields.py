"""Field checks shared by every entity: amounts, DocNumber, currency, copying.

``Options`` carries the per-request switches a write honours
(``include=allowduplicatedocnum``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.books import ref_to
from connectors.quickbooks.sandbox.money import decimal_of
from connectors.quickbooks.sandbox.money import places

__all__ = [
    "DOC_NUMBER_MAX",
    "Options",
    "amount",
    "check_currency",
    "check_doc_number",
    "check_length",
    "freeze",
    "passthrough",
    "receivable_account",
]

DOC_NUMBER_MAX = 21
# Amounts stay below 10^12 so that products and sums keep every cent within
# Decimal's 28 digits (a larger number would fail to round, not be refused).
_AMOUNT_DIGITS_MAX = 12
_AUTO = "AUTO_GENERATE"
_FIRST_AUTO_NUMBER = 1001


@dataclass(frozen=True, slots=True)
class Options:
    """Switches of one write.

    Attributes:
        allow_duplicate_doc_number: ``include=allowduplicatedocnum`` was sent.
    """

    allow_duplicate_doc_number: bool = False


def freeze(value: Any) -> Any:
    """``value`` with every ``Decimal`` written as a string (the state is plain JSON)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: freeze(item) for key, item in value.items()}
    if isinstance(value, list):
        return [freeze(item) for item in value]
    return value


def passthrough(body: Record, derived: Collection[str]) -> Record:
    """The body's fields the sandbox keeps as given (everything not computed)."""
    return {key: freeze(value) for key, value in body.items() if key not in derived}


def amount(value: Any, element: str, *, required: bool = False, decimals: int = 2,
           minimum: Decimal | None = None) -> Decimal | None:
    """A checked amount, or None when absent and not required.

    Raises:
        QboError: 2020 when required and absent; 6000 when it has too many
            decimals or is below ``minimum``.
    """
    if value is None:
        if required:
            raise errors.required(element)
        return None
    number = decimal_of(value)
    if number is None:  # the schema already refuses non-numbers; kept for the tamper bodies
        raise errors.invalid_property(f"{element} is not a number", element)
    if number.adjusted() >= _AMOUNT_DIGITS_MAX:
        raise errors.business(f"{element} {number} is too large", element)
    if places(number) > decimals:
        raise errors.business(f"{element} {number} has more than {decimals} decimal places", element)
    if minimum is not None and number < minimum:
        raise errors.business(f"{element} must be at least {minimum}, got {number}", element)
    return number


def check_length(value: str | None, element: str, maximum: int) -> None:
    """Raise 2050 when ``value`` is longer than ``maximum``."""
    if value is not None and len(value) > maximum:
        raise errors.too_long(element, maximum, len(value))


def check_currency(books: Books, body: Record) -> Record:
    """The transaction's currency: the home currency, the only one enabled.

    Raises:
        QboError: 6000 for any other currency (multicurrency is off).
    """
    given = body.get("CurrencyRef")
    home = books.currency
    if given is not None and given.get("value") != home["value"]:
        raise errors.business(f"multicurrency is not enabled; this company only uses {home['value']}",
                              "CurrencyRef")
    return home


def check_doc_number(books: Books, entity: str, body: Record, previous: Record | None, options: Options, *,
                     auto: bool) -> str | None:
    """The DocNumber to store: checked for length and uniqueness, or generated.

    Uniqueness is per entity type and only while the company warns about
    duplicate numbers (the default), unless the write allows duplicates.

    Raises:
        QboError: 2050 over 21 characters, 6140 when already used.
    """
    number = body.get("DocNumber")
    if number in (None, "", _AUTO):
        return _next_number(books, entity) if auto else None
    check_length(number, "DocNumber", DOC_NUMBER_MAX)
    if options.allow_duplicate_doc_number or not books.realm["prefs"]["warn_duplicate_doc_number"]:
        return str(number)
    own_id = previous["Id"] if previous else None
    for record in books.table(entity).values():
        if record.get("DocNumber") == number and record["Id"] != own_id:
            raise errors.duplicate_doc_number(number, entity, record["Id"])
    return str(number)


def _next_number(books: Books, entity: str) -> str:
    numbers = [int(record["DocNumber"]) for record in books.table(entity).values()
               if str(record.get("DocNumber", "")).isdigit()]
    return str(max([_FIRST_AUTO_NUMBER - 1, *numbers]) + 1)


def receivable_account(books: Books, ref: Any) -> Record:
    """A reference to the Accounts Receivable account ``ref`` names.

    Raises:
        QboError: 2500 for an unknown account, 6000 for another account type.
    """
    account = books.resolve("Account", ref, "ARAccountRef")
    if account["AccountType"] != "Accounts Receivable":
        raise errors.business(f"account {account['Name']} is not an Accounts Receivable account", "ARAccountRef")
    return ref_to(account)
