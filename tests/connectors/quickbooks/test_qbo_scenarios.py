"""Edge cases the example season does not hold, replayed to the sandbox (FR edition).

One small ledger, under both VAT policies: a deposit received after its
invoice, a credit note on an open invoice, an overpayment paid back, gift
vouchers sold by cheque and in cash and spent, a penalty, a cash expense,
two customers with the same name, a company name with a colon, an invoice
number longer than QuickBooks' 21 characters, and the per-line rounding gap
of accounting-rules §6.2 (three lines at 9.99 incl. 10 % VAT).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import credit_note
from factories import deposit
from factories import forfeit
from factories import invoice
from factories import payment
from factories import refund
from factories import voucher
from qbo_support import assert_one_object_per_transaction
from qbo_support import events_ledger
from qbo_support import invoice_balance_differences
from qbo_support import sandbox
from qbo_support import trial_balance_differences

from connectors.quickbooks import mapping
from connectors.quickbooks import references
from connectors.replay import sync
from connectors.retry import RetryPolicy

D = Decimal
A = {"ref": "C0042", "name": "Jean Dupont", "kind": "individual", "email": "jean@example.org"}
B = {"ref": "C0043", "name": "Jean Dupont", "kind": "individual"}
ACME = {"ref": "ACME-1", "name": "Acme: Loisirs SARL", "kind": "company"}
LONG = "FACTURE-2026-ABCDEFGHIJ-0001"

EVENTS: list[dict[str, Any]] = [
    voucher("e01", "BON-1", "50.00", "multi", "2026-03-01", method="cheque"),
    voucher("e02", "BON-2", "30.00", "single", "2026-03-01", vat_rate="20", method="cash"),
    deposit("e03", "B1", "100.00", "2026-03-02", customer=A),
    invoice("e04", "F-1", [("2", "150.00", "20")], "2026-03-10", booking="B1", customer=A),
    payment("e05", "F-1", "270.00", "2026-03-11"),  # 260 due: 10 overpaid
    refund("e06", "10.00", "2026-03-12", invoice="F-1"),
    invoice("e07", "F-2", [("1", "9.99", "10")] * 3, "2026-03-15", customer=B, include_tax=True),
    credit_note("e08", "AV-1", "F-2", [("1", "9.99", "10")], "2026-03-16"),
    payment("e09", "F-2", "19.98", "2026-03-17", method="voucher", voucher="BON-1"),
    invoice("e10", LONG, [("1", "50.00", "20"), ("2", "10.00", "5.5")], "2026-03-20", booking="B2", customer=ACME),
    deposit("e11", "B2", "81.10", "2026-03-21", customer=ACME),  # after its invoice: applied at once
    deposit("e12", "B3", "30.00", "2026-03-22", customer=A),
    forfeit("e13", "B3", "30.00", "penalty", "2026-03-23"),
    {"id": "e14", "type": "cash.movement", "date": "2026-03-24", "kind": "expense", "amount": "12.00",
     "account": "6063", "label": "Produits d'entretien"},
    invoice("e15", "F-3", [("1", "30.00", "20")], "2026-03-25", customer=A),
    payment("e16", "F-3", "30.00", "2026-03-26", method="voucher", voucher="BON-2"),  # 36.00 due: 6.00 left
]


@pytest.mark.parametrize("policy", ["receipts", "debits"])
def test_edge_cases_replay_equal_to_the_ledger(tmp_path: Path, policy: str) -> None:
    ledger = events_ledger(tmp_path / "ledger", *EVENTS, vat_policy=policy)
    steps = {t.get("step") for t in ledger.txns if t.event_type == "deposit.received"}
    assert "deposit-applied" in steps  # the late deposit was applied at once
    with sandbox() as remote:
        connector = remote.connector()
        summary = sync(ledger.root, connector, since=datetime.date(2000, 1, 1),
                       retry=RetryPolicy(sleep=lambda _s: None))
        assert (summary.sent, summary.failed, summary.stopped) == (len(ledger.txns), [], None)
        assert trial_balance_differences(connector, ledger) == {}
        assert invoice_balance_differences(connector, ledger) == {}
        company = remote.company()
        assert_one_object_per_transaction(company, ledger)
        api = connector.api

        customers = {c["DisplayName"] for c in api.query("SELECT * FROM Customer")}
        assert customers == {"Jean Dupont", "Jean Dupont (C0043)", "Acme- Loisirs SARL"}
        f2 = api.query("SELECT * FROM Invoice WHERE DocNumber = 'F-2'")[0]
        # QuickBooks' per-line VAT would be 3 x 0.91 = 2.73; the invoice carries the ledger's 2.72.
        assert D(str(f2["TxnTaxDetail"]["TotalTax"])) == D("2.72") and D(str(f2["TotalAmt"])) == D("29.97")
        memo = api.query("SELECT * FROM CreditMemo WHERE DocNumber = 'AV-1'")[0]
        assert D(str(memo["RemainingCredit"])) == 0  # applied to F-2 by its zero payment
        assert "/apply" in "".join(company["private_notes"]["Payment"])
        long_number = references.doc_number(LONG)
        assert len(long_number) == 21 and company["doc_numbers"]["Invoice"][long_number] == 1
        deposits = [p for p in api.query("SELECT * FROM Payment") if references.note_holder(p.get("PrivateNote")) == "b:B2"]
        assert [D(str(p["UnappliedAmt"])) for p in deposits] == [0]
        balances = {c["DisplayName"]: D(str(c["Balance"])) for c in api.query("SELECT * FROM Customer")}
        assert balances == {"Jean Dupont": D("6.00"), "Jean Dupont (C0043)": 0, "Acme- Loisirs SARL": 0}
