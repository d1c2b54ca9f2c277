"""The audit's pure comparison and its renderings (no ledger, no server)."""

from __future__ import annotations

import csv
import datetime
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.audit import AuditError
from connectors.audit import Expected
from connectors.audit import LocalDoc
from connectors.audit import LocalFacts
from connectors.audit import RemoteAccount
from connectors.audit import RemoteDoc
from connectors.audit import build_report
from connectors.audit import classify
from connectors.audit import compare_accounts
from connectors.audit import compare_documents
from connectors.audit import keep
from connectors.audit import render

D = Decimal
DAY = datetime.date(2026, 6, 20)
START, END = datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)


def local(key: str, amount: str, *, kind: str = "invoice", tax_lines: int = 1, due: str | None = None,
          sync: str = "synced", remote_id: str = "3001", seq: int = 7) -> LocalDoc:
    number = "F-1" if kind == "invoice" else None
    return LocalDoc(Expected(key, kind, f"Facture {key}", D(amount), tax_lines, number),  # type: ignore[arg-type]
                    DAY, seq, f"evt-{seq}", sync, remote_id, None if due is None else D(due))


def remote(key: str, amount: str, *, kind: str = "invoice", due: str | None = None, ident: str = "3001") -> RemoteDoc:
    return RemoteDoc(key, kind, f"Facture {key}", DAY, D(amount),  # type: ignore[arg-type]
                     None if due is None else D(due), ident)


# -- one document ------------------------------------------------------------------------------------

def test_same_amount_and_status_is_a_match() -> None:
    found = classify(local("k1", "120.00", due="0"), remote("k1", "120.00", due="0"))
    assert (found.cls, found.local, found.remote, found.difference) == ("match", D("120.00"), D("120.00"), D(0))
    assert (found.local_paid, found.remote_paid) == (True, True)


@pytest.mark.parametrize(("amount", "tax_lines", "cls"), [
    ("120.01", 1, "rounding"),        # one cent on a one-line invoice: Pennylane's per-line VAT rounding
    ("119.99", 1, "rounding"),
    ("120.02", 1, "amount_differs"),  # two cents on one tax line is no rounding
    ("120.02", 2, "rounding"),        # ...but it is on two
    ("121.00", 1, "amount_differs"),
    ("120.01", 0, "amount_differs"),  # an entry: nothing is computed remotely, so no allowance
])
def test_the_rounding_allowance_is_one_cent_per_tax_line(amount: str, tax_lines: int, cls: str) -> None:
    found = classify(local("k1", "120.00", tax_lines=tax_lines), remote("k1", amount))
    assert found.cls == cls
    assert found.difference == D(amount) - D("120.00")


def test_paid_against_open_is_a_status_difference() -> None:
    found = classify(local("k1", "120.00", due="120.00"), remote("k1", "120.00", due="0"))
    assert (found.cls, found.local_paid, found.remote_paid) == ("status_differs", False, True)
    assert found.note == ""  # the class says it


def test_a_cent_left_to_pay_by_a_rounded_total_is_rounding_not_status() -> None:
    # The total is a cent higher remotely, so a cent is left to pay there.
    found = classify(local("k1", "120.00", due="0"), remote("k1", "120.01", due="0.01"))
    assert found.cls == "rounding" and found.note == "paid in the ledger, open on the provider by the rounding only"
    assert classify(local("k1", "120.00", due="0"), remote("k1", "120.00", due="0.02")).cls == "status_differs"


def test_status_wins_over_rounding_and_amount_wins_over_status() -> None:
    assert classify(local("k1", "120.00", due="120.00"), remote("k1", "120.01", due="0")).cls == "status_differs"
    both = classify(local("k1", "120.00", due="120.00"), remote("k1", "130.00", due="0"))
    assert both.cls == "amount_differs" and both.note == "open in the ledger, paid on the provider too"


def test_status_is_not_compared_when_a_side_has_none() -> None:
    # Credit notes and entries carry no paid status.
    assert classify(local("k1", "-20.00", kind="credit_note"),
                    remote("k1", "-20.00", kind="credit_note", due="0")).cls == "match"


def test_a_missing_document_says_whether_it_was_ever_synced() -> None:
    deleted = classify(local("k1", "120.00", sync="synced", remote_id="3007"), None)
    assert (deleted.cls, deleted.local, deleted.remote, deleted.difference) == (
        "missing_remote", D("120.00"), None, None)
    assert "synced as 3007, no longer on the provider" in deleted.note
    pending = classify(local("k2", "120.00", sync="pending", remote_id=""), None)
    assert "not synced (pending)" in pending.note


# -- many documents ------------------------------------------------------------------------------------

def test_every_document_of_either_side_ends_in_one_finding() -> None:
    mine = [local("a", "10.00"), local("b", "20.00"), local("c", "30.00")]
    theirs = [remote("a", "10.00"), remote("c", "31.00"), remote("x", "5.00", ident="3999"),
              remote("a", "10.00", ident="3998")]
    found = {(f.key, f.remote_id): f for f in compare_documents(mine, theirs)}
    assert {k: f.cls for k, f in found.items()} == {
        ("a", "3001"): "match", ("b", "3001"): "missing_remote", ("c", "3001"): "amount_differs",
        ("x", "3999"): "missing_local", ("a", "3998"): "missing_local"}
    assert found[("x", "3999")].remote == D("5.00") and found[("x", "3999")].local is None
    assert "a second document under key a" in found[("a", "3998")].note


def test_accounts_compare_movement_by_movement() -> None:
    lines = compare_accounts({"411": D("100.00"), "706": D("-100.00"), "512": D(0)},
                             [RemoteAccount("411", "Clients", D("99.00")), RemoteAccount("706", "Prestations",
                                                                                        D("-100.00")),
                              RemoteAccount("44571", "TVA", D("-1.00"))], {"411": "411-Clients"})
    assert [(a.account, a.label, a.local, a.remote, a.difference) for a in lines] == [
        ("411", "Clients", D("100.00"), D("99.00"), D("-1.00")),
        ("44571", "TVA", D(0), D("-1.00"), D("-1.00")),
        ("706", "Prestations", D("-100.00"), D("-100.00"), D(0)),
    ]


# -- the report -----------------------------------------------------------------------------------------

def facts(documents: list[LocalDoc], accounts: dict[str, Decimal] | None = None, transactions: int = 1,
          oldest: tuple[int, str, str, str] | None = None) -> LocalFacts:
    return LocalFacts(accounts if accounts is not None else {"411": D("10.00"), "706": D("-10.00")}, {},
                      documents, transactions, oldest)


def balanced() -> list[RemoteAccount]:
    return [RemoteAccount("411", "Clients", D("10.00")), RemoteAccount("706", "Prestations", D("-10.00"))]


def test_a_report_passes_with_matches_and_rounding_only() -> None:
    report = build_report("pennylane", Path("l"), START, END, facts([local("a", "10.00"), local("b", "10.00")]),
                          balanced(), [remote("a", "10.00"), remote("b", "10.01")])
    assert report.ok and report.counts["match"] == 1 and report.counts["rounding"] == 1
    assert sum(report.counts.values()) == 2


def test_drift_alone_fails_a_report() -> None:
    report = build_report("pennylane", Path("l"), START, END, facts([local("a", "10.00")]),
                          [RemoteAccount("411", "Clients", D("10.00"))], [remote("a", "10.00")])
    assert not report.ok
    assert [(a.account, a.difference) for a in report.drift] == [("706", D("10.00"))]


def test_a_period_with_nothing_on_either_side_is_an_error() -> None:
    with pytest.raises(AuditError, match="nothing to audit from 2026-01-01 to 2026-12-31"):
        build_report("pennylane", Path("l"), START, END, facts([], {}, 0), [], [])


def sample() -> object:
    return build_report(
        "pennylane", Path("l"), START, END,
        facts([local("a", "10.00", due="10.00"), local("b", "20.00", seq=9)],
              oldest=(9, "evt-9", "2026-06-20", "failed")),
        balanced(), [remote("a", "10.00", due="0"), remote("z", "3.00", ident="4000")])


def test_json_holds_the_summary_and_every_document() -> None:
    body = json.loads(render(sample(), "json"))  # type: ignore[arg-type]
    assert body["ok"] is False and body["period"] == {"from": "2026-01-01", "to": "2026-12-31"}
    assert body["summary"]["counts"] == {"match": 0, "rounding": 0, "amount_differs": 0, "status_differs": 1,
                                         "missing_remote": 1, "missing_local": 1}
    assert body["summary"]["oldest_unsynced"] == {"seq": 9, "event_id": "evt-9", "date": "2026-06-20",
                                                  "state": "failed"}
    status = next(d for d in body["documents"] if d["class"] == "status_differs")
    assert (status["key"], status["local_status"], status["remote_status"]) == ("a", "open", "paid")
    assert (status["local_due"], status["remote_due"]) == ("10.00", "0.00")
    unknown = next(d for d in body["documents"] if d["class"] == "missing_local")
    assert (unknown["local"], unknown["remote"], unknown["remote_id"]) == (None, "3.00", "4000")


def test_csv_is_one_table_of_accounts_then_documents() -> None:
    rows = list(csv.DictReader(io.StringIO(render(sample(), "csv"))))  # type: ignore[arg-type]
    assert [r["section"] for r in rows] == ["trial_balance"] * 2 + ["document"] * 3
    missing = next(r for r in rows if r["class"] == "missing_remote")
    assert (missing["reference"], missing["local"], missing["remote"], missing["seq"]) == ("b", "20.00", "", "9")


def test_the_table_lists_what_differs_and_the_verdict() -> None:
    text = render(sample(), "table")  # type: ignore[arg-type]
    assert "Documents that are not a match (3 of 3)" in text
    assert "Oldest unsynced transaction: seq 9 (2026-06-20, event evt-9, failed)" in text
    assert text.rstrip().endswith("DIFFERENCES FOUND")


def test_each_run_is_kept_and_none_overwritten(tmp_path: Path) -> None:
    report = sample()
    first, second = keep(report, tmp_path), keep(report, tmp_path)  # type: ignore[arg-type]
    assert first != second and first.parent == second.parent == tmp_path / "audit"
    assert first.name.startswith("pennylane-") and first.suffix == ".json"
    assert json.loads(first.read_text()) == json.loads(second.read_text())
