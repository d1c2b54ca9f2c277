"""The engine's CLI: init options, tamper detection by `check`, environment."""

from __future__ import annotations

import tomllib
from pathlib import Path

from conftest import assert_clean, jsonl, partida
from factories import many_events


def test_init_writes_the_layout_and_settings(tmp_path: Path) -> None:
    root = tmp_path / "l"
    result = partida("init", "--ledger", str(root), "--company", "Kayak & Co", "--vat-policy", "debits",
                     "--fiscal-year-start", "09-01", check=True)
    assert "created ledger" in result.stdout
    for name in ("main.beancount", "partida.toml", "accounts.beancount", "journal", "sync"):
        assert (root / name).exists(), name
    settings = tomllib.loads((root / "partida.toml").read_text())
    assert settings["company"] == {"name": "Kayak & Co", "currency": "EUR", "chart": "fr-pcg", "vat_policy": "debits",
                                   "fiscal_year_start": "09-01", "open_date": settings["company"]["open_date"]}
    assert_clean(root)
    again = partida("init", "--ledger", str(root), "--company", "X")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_init_refuses_bad_options(tmp_path: Path) -> None:
    bad = partida("init", "--ledger", str(tmp_path / "a"), "--company", "X", "--fiscal-year-start", "13-01")
    assert bad.returncode != 0 and "MM-DD" in bad.stderr
    bad = partida("init", "--ledger", str(tmp_path / "b"), "--company", "X", "--currency", "euro")
    assert bad.returncode != 0 and "ISO 4217" in bad.stderr


def test_fiscal_year_files_follow_the_fiscal_year_start(tmp_path: Path) -> None:
    root = tmp_path / "l"
    partida("init", "--ledger", str(root), "--company", "X", "--fiscal-year-start", "09-01", check=True)
    events = many_events(4)  # dates in 2026 and 2027
    partida("record", "--ledger", str(root), "-", input=jsonl(*events), check=True)
    years = sorted(p.stem for p in (root / "journal").glob("*.beancount"))
    assert years == ["2026", "2027"]  # Jan-Apr 2026 closes in 2026, later dates in 2027
    assert_clean(root)


def test_ledger_from_environment(tmp_path: Path) -> None:
    root = tmp_path / "l"
    env = {"PARTIDA_LEDGER": str(root)}
    partida("init", "--company", "X", env=env, check=True)
    partida("record", "-", input=jsonl(*many_events(2)), env=env, check=True)
    assert "invariants: OK" in partida("check", env=env, check=True).stdout


def _journal(root: Path) -> Path:
    return next((root / "journal").glob("*/000001.beancount"))


def _recorded(tmp_path: Path) -> Path:
    root = tmp_path / "l"
    partida("init", "--ledger", str(root), "--company", "X", check=True)
    partida("record", "--ledger", str(root), "-", input=jsonl(*many_events(6)), check=True)
    return root


def test_check_detects_a_one_character_edit(tmp_path: Path) -> None:
    root = _recorded(tmp_path)
    seg = _journal(root)
    text = seg.read_text()
    seg.write_text(text.replace("Facture xF2", "Facture xF3", 1))
    result = partida("check", "--ledger", str(root))
    assert result.returncode == 1 and "was edited after it was written" in result.stderr


def test_check_detects_a_removed_and_a_swapped_transaction(tmp_path: Path) -> None:
    root = _recorded(tmp_path)
    seg = _journal(root)
    blocks = seg.read_text().split("\n\n")
    seg.write_text("\n\n".join(blocks[:2] + blocks[3:]))
    result = partida("check", "--ledger", str(root))
    assert result.returncode == 1 and "missing (removed?)" in result.stderr
    seg.write_text("\n\n".join([blocks[1], blocks[0]] + blocks[2:]))
    result = partida("check", "--ledger", str(root))
    assert result.returncode == 1 and "reordered" in result.stderr
    seg.write_text("\n\n".join(blocks))
    assert partida("check", "--ledger", str(root)).returncode == 0


def test_verify_command_passes_then_names_an_edit(tmp_path: Path) -> None:
    root = _recorded(tmp_path)
    assert "hash chain intact" in partida("verify", "--ledger", str(root), check=True).stdout
    seg = _journal(root)
    seg.write_text(seg.read_text().replace("Facture xF2", "Facture xF3", 1))
    result = partida("verify", "--ledger", str(root))
    assert result.returncode == 1 and "edited after it was written" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_fec_writes_the_named_file_and_refuses_bad_input(tmp_path: Path) -> None:
    root = _recorded(tmp_path)
    out = tmp_path / "out"
    result = partida("export", "fec", "--ledger", str(root), "--year", "2026", "--siren", "123456789",
                     "--output-dir", str(out), check=True)
    path = out / "123456789FEC20261231.txt"
    assert path.exists() and f"wrote {path}" in result.stdout
    assert path.read_text(encoding="utf-8").startswith("JournalCode\tJournalLib\tEcritureNum\t")
    no_siren = partida("export", "fec", "--ledger", str(root), "--year", "2026")
    assert no_siren.returncode == 1 and "SIREN" in no_siren.stderr
    empty = partida("export", "fec", "--ledger", str(root), "--year", "2019", "--siren", "123456789")
    assert empty.returncode == 1 and "holds no entry" in empty.stderr
    missing = partida("export", "fec", "--ledger", str(tmp_path / "nope"), "--year", "2026", "--siren", "123456789")
    assert missing.returncode == 1 and "no Partida ledger" in missing.stderr
