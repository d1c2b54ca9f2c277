"""Small builders of valid events for tests."""

from __future__ import annotations

from typing import Any

CUSTOMER = {"ref": "C0042", "name": "Jean Dupont", "kind": "individual"}


def deposit(id: str, booking: str, amount: str, date: str = "2026-05-10", *, method: str = "card",
            vat_rate: str | None = "20", customer: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    event = {"id": id, "type": "deposit.received", "date": date, "booking": booking,
             "customer": customer or CUSTOMER, "amount": amount, "method": method, **extra}
    if vat_rate is not None:
        event["vat_rate"] = vat_rate
    return event


def invoice(id: str, number: str, lines: list[tuple[str, str, str]], date: str = "2026-06-20", *,
            booking: str | None = None, customer: dict[str, Any] | None = None, include_tax: bool = False,
            totals: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    event = {"id": id, "type": "invoice.issued", "date": date, "number": number,
             "customer": customer or CUSTOMER,
             "lines": [{"label": f"line {i}", "quantity": q, "unit_price": p, "vat_rate": r}
                       for i, (q, p, r) in enumerate(lines)], **extra}
    if include_tax:
        event["prices_include_tax"] = True
    if booking is not None:
        event["booking"] = booking
    if totals is not None:
        event["totals"] = totals
    return event


def payment(id: str, number: str, amount: str, date: str = "2026-06-20", *, method: str = "card",
            **extra: Any) -> dict[str, Any]:
    return {"id": id, "type": "payment.received", "date": date, "invoice": number, "amount": amount,
            "method": method, **extra}


def credit_note(id: str, number: str, invoice_number: str, lines: list[tuple[str, str, str]],
                date: str = "2026-07-01", **extra: Any) -> dict[str, Any]:
    return {"id": id, "type": "credit_note.issued", "date": date, "number": number, "invoice": invoice_number,
            "lines": [{"label": "avoir", "quantity": q, "unit_price": p, "vat_rate": r} for q, p, r in lines],
            **extra}


def refund(id: str, amount: str, date: str = "2026-07-02", *, method: str = "card", **target: Any) -> dict[str, Any]:
    return {"id": id, "type": "refund.issued", "date": date, "amount": amount, "method": method, **target}


def forfeit(id: str, booking: str, amount: str, treatment: str, date: str = "2026-06-01") -> dict[str, Any]:
    return {"id": id, "type": "deposit.forfeited", "date": date, "booking": booking, "amount": amount,
            "treatment": treatment}


def voucher(id: str, code: str, amount: str, purpose: str, date: str = "2026-03-01", *,
            vat_rate: str | None = None, method: str = "card") -> dict[str, Any]:
    event = {"id": id, "type": "voucher.sold", "date": date, "code": code, "amount": amount,
             "method": method, "purpose": purpose}
    if vat_rate is not None:
        event["vat_rate"] = vat_rate
    return event


def cash(id: str, kind: str, amount: str, date: str = "2026-04-01", **extra: Any) -> dict[str, Any]:
    return {"id": id, "type": "cash.movement", "date": date, "kind": kind, "amount": amount, **extra}


def many_events(n_bookings: int, prefix: str = "x", year: int = 2026) -> list[dict[str, Any]]:
    """A large valid batch: per booking a deposit, an invoice and the balance paid.

    Dates spread over two fiscal years so writes touch several journal files.
    """
    events: list[dict[str, Any]] = []
    for i in range(n_bookings):
        month = 1 + i % 12
        date = f"{year + (i % 2)}-{month:02d}-{1 + i % 28:02d}"
        customer = {"ref": f"{prefix}C{i % 500}", "name": f"Client {i % 500}", "kind": "individual"}
        booking, number = f"{prefix}B{i}", f"{prefix}F{i}"
        events.append(deposit(f"{prefix}-d{i}", booking, "30.00", date, customer=customer))
        events.append(invoice(f"{prefix}-i{i}", number, [("2", "50.00", "20")], date, booking=booking,
                              customer=customer))
        events.append(payment(f"{prefix}-p{i}", number, "90.00", date))
    return events
