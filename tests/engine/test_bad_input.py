"""Bad input: one clear line per problem, non-zero exit, not one byte changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import jsonl, partida, snapshot
from factories import deposit, invoice, payment, refund, credit_note

VALID = [deposit("ok-1", "B1", "90.00"), invoice("ok-2", "F-1", [("1", "100.00", "20")], booking="B1")]

# (line text, event id, field expected in the message, words expected in the message)
CASES = [
    ('{"id": "bad-json", "type": "deposit.received",', None, None, "malformed JSON"),
    (json.dumps({**deposit("float-amt", "B2", "1"), "amount": 90.5}), "float-amt", "amount", "JSON number"),
    (json.dumps({k: v for k, v in deposit("no-method", "B2", "10.00").items() if k != "method"}), "no-method", "method", "required"),
    (json.dumps({**deposit("extra", "B2", "10.00"), "colour": "red"}), "extra", "colour", "not a known field"),
    (json.dumps({"id": "what", "type": "booking.exploded", "date": "2026-01-01"}), "what", "type", "unknown event type"),
    (json.dumps(payment("pay-unknown", "F-404", "10.00")), "pay-unknown", "invoice", "unknown invoice"),
    (json.dumps(refund("ref-unknown", "10.00", booking="B-404")), "ref-unknown", "booking", "unknown booking"),
    (json.dumps(deposit("rate", "B2", "10.00", vat_rate="19.6")), "rate", "vat_rate", "not in the chart"),
    (json.dumps(invoice("totals", "F-2", [("1", "100.00", "20")],
                        totals={"net": "100.00", "vat": [{"rate": "20", "amount": "20.02"}], "gross": "120.02"})),
     "totals", "totals.vat", "VAT at 20% is 20.02 but the lines give 20.00"),
    (json.dumps(deposit("negative", "B2", "-10.00")), "negative", "amount", "greater than zero"),
    (json.dumps(credit_note("cn-big", "AV-1", "F-1", [("1", "200.00", "20")])), "cn-big", "lines", "exceeds"),
    (json.dumps(refund("ref-big", "500.00", booking="B1")), "ref-big", "amount", "more than"),
    (json.dumps({**deposit("bad-date", "B2", "10.00"), "date": "2026-02-30"}), "bad-date", "date", "YYYY-MM-DD"),
    (json.dumps({**deposit("qty", "B2", "10.00"), "amount": "10.001"}), "qty", "amount", "2 decimals"),
]


def test_all_problems_reported_at_once_and_nothing_written(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*VALID), check=True)
    before = snapshot(ledger)
    db_before = (ledger / ".partida" / "state.sqlite3").read_bytes()
    lines = [json.dumps(deposit("ok-3", "B3", "20.00"))] + [c[0] for c in CASES]
    result = partida("record", "--ledger", str(ledger), "-", input=("\n".join(lines) + "\n").encode())
    assert result.returncode != 0
    problems = [l for l in result.stderr.splitlines() if l.startswith("line ")]
    # One line per problem: each case has one, the totals case two (VAT and gross).
    assert len(problems) == len(CASES) + 1, result.stderr
    for number, (_, event_id, field, words) in enumerate(CASES, start=2):
        line = next(l for l in problems if l.startswith((f"line {number}:", f"line {number},")) and words in l)
        if event_id is not None:
            assert f"event {event_id!r}" in line, line
        if field is not None:
            assert f"field {field}" in line, line
        assert words in line, line
    assert "nothing was written" in result.stderr
    assert snapshot(ledger) == before
    assert (ledger / ".partida" / "state.sqlite3").read_bytes() == db_before


def test_keep_valid_writes_the_valid_and_lists_the_rest(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*VALID), check=True)
    lines = [json.dumps(deposit("ok-3", "B3", "20.00")), CASES[1][0], CASES[5][0]]
    result = partida("record", "--ledger", str(ledger), "--keep-valid", "-", input=("\n".join(lines)).encode())
    assert result.returncode == 1
    assert "recorded 1 event(s)" in result.stdout
    assert len([l for l in result.stderr.splitlines() if l.startswith("line ")]) == 2
    again = partida("record", "--ledger", str(ledger), "-", input=lines[0].encode(), check=True)
    assert "1 already recorded" in again.stdout


def test_same_batch_twice_changes_nothing(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*VALID), check=True)
    before = snapshot(ledger)
    result = partida("record", "--ledger", str(ledger), "-", input=jsonl(*VALID), check=True)
    assert "recorded 0 event(s)" in result.stdout and "2 already recorded" in result.stdout
    assert snapshot(ledger) == before


def test_same_id_other_content_is_an_error(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*VALID), check=True)
    before = snapshot(ledger)
    changed = {**VALID[0], "amount": "91.00"}
    result = partida("record", "--ledger", str(ledger), "-", input=jsonl(changed))
    assert result.returncode == 1
    assert "event 'ok-1', field id: this id was already recorded with other content" in result.stderr
    assert snapshot(ledger) == before


def test_same_id_twice_in_one_batch_with_other_content(ledger: Path) -> None:
    result = partida("record", "--ledger", str(ledger), "-",
                     input=jsonl(VALID[0], {**VALID[0], "amount": "1.00"}))
    assert result.returncode == 1 and "line 2, event 'ok-1', field id" in result.stderr


@pytest.mark.parametrize("text", ["[1, 2]", '"just a string"', "\xff\xfe"])
def test_not_an_object_or_not_utf8(ledger: Path, text: str) -> None:
    before = snapshot(ledger)
    result = partida("record", "--ledger", str(ledger), "-", input=text.encode("latin-1"))
    assert result.returncode == 1 and result.stderr.startswith("line 1")
    assert snapshot(ledger) == before


def test_missing_ledger_is_one_clear_line(tmp_path: Path) -> None:
    result = partida("record", "--ledger", str(tmp_path / "nope"), "-", input=b"")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: no Partida ledger at {tmp_path / 'nope'} (run `partida init` first)"]
