"""What the Québec example season must show (its recording is checked with the French one's in test_example)."""

from __future__ import annotations

from decimal import Decimal

from conftest import REPO, amount_of, bean_query

EXAMPLE = REPO / "ledgers" / "example-qc"


def test_quebec_example_covers_every_deposit_nature_in_cad_with_two_taxes() -> None:
    text = (EXAMPLE / "season.jsonl").read_text()
    for nature in ("security", "arrhes", "prepayment", "acompte"):
        assert f'"nature":"{nature}"' in text
    main = EXAMPLE / "main.beancount"
    natures = {r["n"] for r in bean_query(main, "SELECT DISTINCT entry_meta('deposit-nature') AS n")}
    assert {"security", "prepayment"} <= natures
    # Everything is in CAD, and the two taxes sit on their own accounts.
    currencies = {r["c"] for r in bean_query(main, "SELECT DISTINCT currency AS c")}
    assert currencies == {"CAD"}
    rows = bean_query(main, "SELECT account, sum(position) AS total WHERE account ~ '23[12]0' GROUP BY account")
    assert len(rows) == 2 and all(amount_of(r["total"]) < Decimal(0) for r in rows)
