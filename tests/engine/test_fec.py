"""The FEC of the example season against the checks of DGFiP's Test Compta Demat."""

from __future__ import annotations

import datetime
import re
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from conftest import REPO, jsonl, partida
from factories import many_events

from engine import beans
from engine.fec import FIELDS, build_fec, fec_filename, render_fec
from engine.ledger import init_ledger, record_batch
from engine.settings import Settings, load_settings

EXAMPLE = REPO / "ledgers" / "example"
AMOUNT = re.compile(r"^\d+,\d{2}$")


def official_checks(text: str, year_start: datetime.date, year_end: datetime.date) -> list[str]:
    """What Test Compta Demat checks, restated (accounting-rules.md §4.1)."""
    problems = []
    rows = [r.split("\t") for r in text.rstrip("\r\n").split("\r\n")]
    if tuple(rows[0]) != FIELDS:
        problems.append(f"header {rows[0]}")
    entries: dict[str, list[list[str]]] = defaultdict(list)
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(FIELDS):
            problems.append(f"line {n}: {len(row)} fields")
            continue
        f = dict(zip(FIELDS, row))
        for name in ("EcritureNum", "EcritureDate", "CompteNum", "Debit", "Credit", "JournalCode", "EcritureLib", "ValidDate"):
            if not f[name]:
                problems.append(f"line {n}: {name} empty")
        if not re.match(r"^\d{3}", f["CompteNum"]):
            problems.append(f"line {n}: CompteNum {f['CompteNum']}")
        for name in ("Debit", "Credit"):
            if not AMOUNT.match(f[name]):
                problems.append(f"line {n}: {name} {f[name]!r}")
        debit, credit = (Decimal(f[k].replace(",", ".")) for k in ("Debit", "Credit"))
        if (debit == 0) == (credit == 0):
            problems.append(f"line {n}: both or neither of debit and credit")
        for name in ("EcritureDate", "PieceDate", "ValidDate") + (("DateLet",) if f["DateLet"] else ()):
            day = datetime.datetime.strptime(f[name], "%Y%m%d").date()
            if name == "EcritureDate" and not year_start <= day <= year_end:
                problems.append(f"line {n}: date {day} outside the year")
        entries[f["EcritureNum"]].append(row)
    numbers = sorted(int(k) for k in entries)
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append("EcritureNum has gaps")
    for num, lines in entries.items():
        fields = [dict(zip(FIELDS, r)) for r in lines]
        total = sum(Decimal(x["Debit"].replace(",", ".")) - Decimal(x["Credit"].replace(",", ".")) for x in fields)
        if total != 0:
            problems.append(f"entry {num} does not balance: {total}")
        for key in ("JournalCode", "EcritureDate", "PieceRef", "PieceDate"):
            if len({x[key] for x in fields}) != 1:
                problems.append(f"entry {num}: {key} differs between its lines")
    return problems


def test_example_fec_passes_the_official_checks_and_equals_the_ledger() -> None:
    settings = load_settings(EXAMPLE / "partida.toml")
    entries, errors, _ = beans.load(EXAMPLE / "main.beancount")
    assert not errors
    lines = build_fec(entries, settings, 2026)
    text = render_fec(lines)
    assert official_checks(text, datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)) == []
    assert fec_filename("123456789", settings, 2026) == "123456789FEC20261231.txt"
    # Totals equal the ledger's: every posting of the year, debit and credit sides.
    debit = sum(p.units.number for e in entries if beans.is_transaction(e) for p in e.postings if p.units.number > 0)
    assert sum(line.debit for line in lines) == debit == sum(line.credit for line in lines)
    assert len({line.num for line in lines}) == sum(1 for e in entries if beans.is_transaction(e))
    # Customers appear as auxiliary accounts; settled invoices are lettered.
    customer_lines = [line for line in lines if line.account in ("411000", "419100") and line.aux_num]
    assert customer_lines and all(line.aux_lib for line in customer_lines)
    lettered = [line for line in lines if line.letter]
    assert lettered and all(line.letter_date for line in lettered)
    by_code: dict[str, Decimal] = defaultdict(Decimal)
    for line in lettered:
        by_code[line.letter] += line.debit - line.credit
    assert set(by_code.values()) == {Decimal(0)}


def test_second_year_opens_with_the_balances_carried_forward(tmp_path: Path) -> None:
    root = tmp_path / "l"
    settings = Settings(company="X")
    init_ledger(root, settings)
    record_batch(root, jsonl(*many_events(40)))  # 2026 and 2027
    entries, _, _ = beans.load(root / "main.beancount")
    lines = build_fec(entries, settings, 2027)
    assert lines[0].journal == "AN" and lines[0].num == 1
    assert official_checks(render_fec(lines), datetime.date(2027, 1, 1), datetime.date(2027, 12, 31)) == []
    opening = [line for line in lines if line.journal == "AN"]
    bank_2026 = sum(p.units.number for e in entries if beans.is_transaction(e) and e.date.year == 2026
                    for p in e.postings if p.account.startswith("Assets:512"))
    assert sum(line.debit - line.credit for line in opening if line.account == "512000") == bank_2026
    assert any(line.account == "110000" for line in opening)  # 2026's result


def test_hostile_text_cannot_break_the_fec_structure(tmp_path: Path) -> None:
    root = tmp_path / "l"
    settings = Settings(company="X")
    init_ledger(root, settings)
    evil = "a\tb\r\nc\n2026\t|x"
    events = many_events(2)
    events[0]["customer"] = {**events[0]["customer"], "name": evil}
    events[1]["customer"] = events[0]["customer"]
    events[1]["lines"][0]["label"] = evil
    record_batch(root, jsonl(*events))
    entries, _, _ = beans.load(root / "main.beancount")
    text = render_fec(build_fec(entries, settings, 2026))
    assert official_checks(text, datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)) == []


def test_a_quebec_ledger_has_no_fec(tmp_path: Path) -> None:
    root = tmp_path / "qc"
    partida("init", "--ledger", str(root), "--company", "Plein Air QC inc.", "--chart", "ca-qc", check=True)
    result = partida("export", "fec", "--ledger", str(root), "--year", "2026", "--siren", "123456789",
                     "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1 and "fr-pcg" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
