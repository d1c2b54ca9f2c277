"""Hostile text in any string field cannot change the ledger's structure."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from conftest import assert_clean, bean_query, jsonl, partida
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import beans
from engine.chart import FR_PCG
from engine.ledger import init_ledger, record_batch
from engine.settings import Settings

NASTY = [
    'Jean "Jo" Dupont',
    "line one\nline two\n\n",
    "a; comment ; ;;",
    '"\n2026-01-01 open Assets:Evil EUR\n2026-01-02 * "x"\n  Assets:Evil 1000.00 EUR\n  Income:706-Prestations',
    'include "/etc/passwd"\noption "title" "pwned"\nplugin "os.system"',
    "pushtag #evil\n^link #tag",
    "back\\slash \\\" \\n",
    "\r\n\r carriage",
    "nul\x00byte and \x1b[31mescape",
    "日本語のお客様 — Ωμέγα — عربي — 👩‍👩‍👧",
    "x" * 50_000,
    "\u2028\u2029\ufeff",
    "[bold red]rich markup[/]",
]


def events_with(text: str, tag: str) -> list[dict]:
    customer = {"ref": text[:900], "name": text, "kind": "company", "email": text, "vat_number": text[:900]}
    booking, number = f"{tag}-{text[:800]}", f"F-{tag}-{text[:800]}"
    return [
        {"id": f"{tag}-d-{text[:800]}", "type": "deposit.received", "date": "2026-05-01", "booking": booking,
         "customer": customer, "amount": "50.00", "method": "card", "vat_rate": "20", "reference": text[:900]},
        {"id": f"{tag}-i", "type": "invoice.issued", "date": "2026-05-02", "number": number, "booking": booking,
         "customer": customer, "lines": [{"label": text, "quantity": "1", "unit_price": "100.00", "vat_rate": "20",
                                          "product": {"ref": text[:900], "name": text}}]},
        {"id": f"{tag}-p", "type": "payment.received", "date": "2026-05-03", "invoice": number, "amount": "70.00",
         "method": "cash", "reference": text[:900]},
        {"id": f"{tag}-c", "type": "cash.movement", "date": "2026-05-04", "kind": "expense", "amount": "3.00",
         "label": text},
    ]


def readback(root: Path) -> list[tuple]:
    entries, errors, options = beans.load(root / "main.beancount")
    assert not errors, beans.format_errors(errors)
    return beans.run_query(entries, options, "SELECT DISTINCT entry_meta('event-id'), payee, "
                           "entry_meta('booking'), entry_meta('source-event')")


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_fixed_hostile_texts_round_trip_through_bean_query(ledger: Path, text: str) -> None:
    events = events_with(text, "h")
    result = partida("record", "--ledger", str(ledger), "-", input=jsonl(*events))
    assert result.returncode == 0, result.stderr
    assert_clean(ledger)
    accounts = {r["account"] for r in bean_query(ledger / "main.beancount", "SELECT DISTINCT account")}
    chart = set(FR_PCG.accounts.values())
    customer_side = {a for a in accounts if a not in chart}
    # Only the customer's two sub-accounts are new, whatever the text said.
    assert len(customer_side) == 2
    assert {a.rsplit(":", 1)[0] for a in customer_side} == {FR_PCG.role("receivable"), FR_PCG.role("customer_deposits")}
    assert len(bean_query(ledger / "main.beancount", "SELECT DISTINCT entry_meta('event-id') AS e")) == 4
    rows = readback(ledger)
    sources = {json.loads(src)["id"]: json.loads(src) for _, _, _, src in rows if src}
    assert sources == {e["id"]: e for e in events}
    assert {payee for _, payee, _, _ in rows if payee} == {text}
    assert {b for _, _, b, _ in rows if b} == {events[0]["booking"]}
    # The CLI prints hostile names as data, not as markup or control sequences.
    out = partida("deposits", "--ledger", str(ledger), "--as-of", "2026-05-01", "--format", "json")
    assert json.loads(out.stdout)[0]["name"] == text


printable = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300).filter(lambda s: s.strip())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=printable, ref=printable, label=printable)
def test_any_text_reads_back_as_sent(name: str, ref: str, label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "l"
        init_ledger(root, Settings(company=name))
        events = events_with(ref, "g")
        events[0]["customer"]["name"] = name
        events[1]["lines"][0]["label"] = label
        result = record_batch(root, jsonl(*events))
        assert not result.problems, [str(p) for p in result.problems]
        rows = readback(root)
        assert {json.loads(src)["id"]: json.loads(src) for *_, src in rows if src} == {e["id"]: e for e in events}
        assert {payee for _, payee, _, _ in rows if payee} == {name}


def test_lone_surrogate_is_refused_not_written(ledger: Path) -> None:
    line = '{"id": "s", "type": "cash.movement", "date": "2026-01-01", "kind": "float", "amount": "1.00", "label": "\\ud800"}'
    result = partida("record", "--ledger", str(ledger), "-", input=line.encode())
    assert result.returncode == 1 and "field label: is not valid Unicode" in result.stderr
