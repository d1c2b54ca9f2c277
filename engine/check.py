"""``partida check``: Beancount's own validation plus the engine's invariants.

Invariants are pure functions ``(ledger view) -> list[str]``, run in order like
Beancount's validations. Each message names the transaction or account.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from . import beans
from .ledger import GENESIS, LedgerSession, all_segments
from .problems import ExternallyChangedError
from .state import StateIndex, to_cents


@dataclass(frozen=True)
class LedgerView:
    entries: list[Any]
    txns_in_order: list[Any]  # transactions in append (file) order
    index: StateIndex
    session: LedgerSession


def _where(entry: Any) -> str:
    return f"{entry.meta.get('filename', '?')}:{entry.meta.get('lineno', '?')} (event {entry.meta.get('event-id', '?')})"


def check_balanced(view: LedgerView) -> list[str]:
    out = []
    for entry in view.txns_in_order:
        total: dict[str, Decimal] = {}
        for p in entry.postings:
            total[p.units.currency] = total.get(p.units.currency, Decimal(0)) + p.units.number
        if any(v != 0 for v in total.values()):
            out.append(f"{_where(entry)}: does not balance exactly: {total}")
    return out


def check_chain(view: LedgerView) -> list[str]:
    """Sequence numbers continuous, increasing within each file, hash chain intact.

    Appends interleave across fiscal-year files, so the chain is walked in
    ``seq`` order; a hand swap inside one file shows as a decreasing ``seq``.
    """
    last_in_file: dict[str, int] = {}
    for entry in view.txns_in_order:
        if "seq" not in entry.meta or "chain" not in entry.meta:
            return [f"{_where(entry)}: transaction without seq/chain: not written by Partida"]
        seq, name = int(entry.meta["seq"]), entry.meta.get("filename", "")
        if seq <= last_in_file.get(name, 0):
            return [f"{_where(entry)}: seq {seq} comes after seq {last_in_file[name]} in its file: transactions were reordered"]
        last_in_file[name] = seq
    previous, expected = GENESIS, 1
    for entry in sorted(view.txns_in_order, key=lambda e: int(e.meta["seq"])):
        seq = int(entry.meta["seq"])
        if seq != expected:
            what = "missing (removed?)" if seq > expected else "duplicated"
            return [f"{_where(entry)}: seq {seq} where {expected} was expected: a transaction is {what}"]
        chain = beans.entry_chain(previous, entry)
        if chain != entry.meta["chain"]:
            return [f"{_where(entry)}: seq {seq} was edited after it was written (hash chain broken)"]
        previous, expected = chain, expected + 1
    return []


def check_index(view: LedgerView) -> list[str]:
    """The state index's balances equal the ledger's, account by account."""
    ledger: dict[str, int] = {}
    for entry in view.txns_in_order:
        for p in entry.postings:
            ledger[p.account] = ledger.get(p.account, 0) + to_cents(p.units.number)
    indexed = view.index.balances(None)
    out = []
    for account in sorted(set(ledger) | set(indexed)):
        if ledger.get(account, 0) != indexed.get(account, 0):
            out.append(f"{account}: ledger says {ledger.get(account, 0) / 100:.2f}, index says {indexed.get(account, 0) / 100:.2f}")
    return out


def check_open_items(view: LedgerView) -> list[str]:
    """411, 4191 and 44588 (their ca-qc roles) equal the sum of the open items the engine tracks."""
    index, chart = view.index, view.session.settings.chart
    rows = index.conn.execute("SELECT kind, body FROM records WHERE kind IN ('invoice','holder','voucher')")
    from .state import load_record

    due = held = vat = 0
    for kind, body in rows:
        r = load_record(kind, body)
        if kind == "invoice":
            due += to_cents(r.open)
        elif kind == "holder":
            held += sum(to_cents(c.amount) for c in r.credits)
            vat += sum(to_cents(c.vat) for c in r.credits)
        else:
            held += to_cents(r.amount)
            vat += to_cents(r.vat)
    balances = index.balances(None)

    def total(role: str) -> int:
        root = chart.role(role)
        return sum(v for a, v in balances.items() if a == root or a.startswith(root + ":"))

    checks = [("411 receivables", total("receivable"), due)]
    if chart.has_role("vat_on_deposits"):
        checks += [("4191 deposits and vouchers", -total("customer_deposits"), held),
                   ("44588 VAT on deposits", total("vat_on_deposits"), vat)]
    else:  # ca-qc: a prepayment's tax is payable on receipt; Customer Deposits holds the rest
        checks += [("customer deposits and vouchers", -total("customer_deposits"), held - vat)]
    out = []
    for label, ledger_value, tracked in checks:
        if ledger_value != tracked:
            out.append(f"{label}: ledger balance {ledger_value / 100:.2f} but open items add up to {tracked / 100:.2f}")
    return out


INVARIANTS: list[Callable[[LedgerView], list[str]]] = [check_balanced, check_chain, check_index, check_open_items]


def _in_file_order(session: LedgerSession, entries: list[Any]) -> list[Any]:
    rank = {str(p.resolve()): i for i, p in enumerate(all_segments(session.layout))}
    txns = [e for e in entries if beans.is_transaction(e)]
    return sorted(txns, key=lambda e: (rank.get(str(Path(e.meta["filename"]).resolve()), -1), e.meta["lineno"]))


def run_check(root: Path) -> tuple[list[str], list[str], int]:
    """Returns (Beancount errors, invariant problems, number of transactions).

    A ledger edited by hand cannot bring the state index up to date; it is
    still checked, with the invariants that need no index.
    """
    invariants, problems = INVARIANTS, []
    try:
        with LedgerSession(root) as session:
            pass
        catch_up = True
    except ExternallyChangedError as exc:
        invariants, problems, catch_up = [check_balanced, check_chain], [str(exc)], False
    with LedgerSession(root, catch_up=catch_up) as session:
        assert session.index is not None
        entries, errors, _options = beans.load(session.layout.main)
        view = LedgerView(entries, _in_file_order(session, entries), session.index, session)
        problems += [msg for invariant in invariants for msg in invariant(view)]
        return beans.format_errors(errors), problems, len(view.txns_in_order)
