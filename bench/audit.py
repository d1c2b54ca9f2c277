"""Audit benchmark: ``partida audit`` over 100,000 documents against each sandbox, local time against provider time.

1. A ledger (VAT on debits) of N/2 bookings, each an invoice of one or two
   lines and its payment (every tenth paid by half, so some invoices stay
   open): N documents on Pennylane, N/2 invoices and N/2 cash entries of two
   lines each. Recorded with the engine, in chunks of 10,000 events.
2. The Pennylane side is built directly in the sandbox's books, in process,
   with the connector's own mapping (``document_body``, ``entry_body``, the
   reconciliation entry when one is due, the lettering of each payment with
   its invoice), not through a 100k sync; the replay state is written as a
   sync would leave it (every transaction synced, with its key and remote id).
3. The sandbox is served by a child process with its real limit on
   (25 requests / 5 s), and the real ``partida audit pennylane`` runs as a
   process, paced at the documented limit (no ``PARTIDA_RATE_LIMIT``).

QuickBooks (``--provider quickbooks``), on the same ledger:

2. the company (FR edition) is built straight into the sandbox's books with
   the connector's own mapping (``sales_body``, ``payment_body``, the
   customers, items and accounts it would create), each body checked by the
   sandbox's own schema and rules (``entities.write``); the state is saved
   to a file and the replay state written as a sync would leave it;
3. the sandbox runs as ``partida sandbox quickbooks --state FILE``, a child
   process with its real limits (500 requests / min, 10 in flight, 40
   batches / min), and ``partida audit quickbooks`` runs as a process at the
   connector's documented pace (OAuth credentials minted by the sandbox).

Printed: documents, requests, the audit's wall time, the time spent on the
provider (waiting for the rate limit, i.e. the client's pacer, and inside the
requests, i.e. the sandbox's work and HTTP) and locally (reading the ledger,
comparing, rendering, keeping the run, process start), and the local share
of the total (target: at most 20 %). The audit must find nothing (exit 0).

Usage: ``.venv/bin/python bench/audit.py [--documents N] [--provider pennylane|quickbooks|both] [--workdir DIR]``
(N = 100,000 by default; ``--documents 10000`` for a quick run; both providers by default).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for folder in (REPO, REPO / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from ingest import document_totals  # noqa: E402

from connectors.audit import read_located  # noqa: E402
from connectors.pennylane import mapping  # noqa: E402
from connectors.quickbooks import mapping as qbo_mapping  # noqa: E402
from connectors.pennylane.sandbox import SCOPES, create_app  # noqa: E402
from connectors.pennylane.sandbox.books import Books  # noqa: E402
from connectors.pennylane.sandbox.invoices import create_invoice  # noqa: E402
from connectors.sandbox.server import serve  # noqa: E402
from connectors.syncstate import SCHEMA, idempotency_key  # noqa: E402
from connectors.tokens import Credentials, TokenStore, connection_key  # noqa: E402
from engine.journal import LedgerTxn  # noqa: E402
from engine.ledger import LedgerSession, init_ledger, record_batch  # noqa: E402
from engine.settings import Settings  # noqa: E402

CHUNK = 10_000
CUSTOMERS = 500
TOKEN = "bench-audit-token-0123456789abcdef"
LINES = (("Canyoning demi-journée", "45.00", "20"), ("Kayak 2 h", "22.50", "20"), ("Nuit en gîte", "48.00", "10"))
METHODS = ("card", "transfer", "online", "cash", "cheque")
Record = dict[str, Any]


# -- 1. the ledger ----------------------------------------------------------------------------------

def booking(i: int, bookings: int) -> list[Record]:
    """An invoice and its payment, dated in order over 2026."""
    day = (datetime.date(2026, 1, 1) + datetime.timedelta(days=i * 365 // bookings)).isoformat()
    first, second = LINES[i % 3], LINES[(i + 1) % 3]
    lines = [{"label": first[0], "quantity": str(1 + i % 4), "unit_price": first[1], "vat_rate": first[2]}]
    if i % 2:
        lines.append({"label": second[0], "quantity": "1", "unit_price": second[1], "vat_rate": second[2]})
    totals, gross = document_totals(lines)
    paid = gross if i % 10 else (gross / 2).quantize(Decimal("0.01"))
    customer = {"ref": f"C{i % CUSTOMERS:04d}", "name": f"Client {i % CUSTOMERS}", "kind": "individual"}
    number = f"F-{i:06d}"
    return [
        {"id": f"i{i}", "type": "invoice.issued", "date": day, "number": number, "customer": customer,
         "lines": lines, "totals": totals},
        {"id": f"p{i}", "type": "payment.received", "date": day, "invoice": number, "amount": f"{paid:.2f}",
         "method": METHODS[i % len(METHODS)]},
    ]


def build_ledger(root: Path, documents: int) -> None:
    init_ledger(root, Settings(company="Bench Audit SAS", vat_policy="debits"))
    bookings = documents // 2
    events = [e for i in range(bookings) for e in booking(i, bookings)]
    for start in range(0, len(events), CHUNK):
        chunk = events[start:start + CHUNK]
        result = record_batch(root, ("\n".join(json.dumps(e) for e in chunk) + "\n").encode())
        assert not result.problems, result.problems[:3]


def ledger_txns(root: Path) -> list[LedgerTxn]:
    with LedgerSession(root) as session:
        assert session.index is not None
        locations = session.index.locations()
    return read_located(root, locations)


# -- 2. the Pennylane side ------------------------------------------------------------------------------

class RemoteBuilder:
    """What the connector would have posted, written straight into the sandbox's books."""

    def __init__(self, books: Books) -> None:
        self.books = books
        self.accounts: dict[str, int] = {}
        self.customers: dict[str, Record] = {}
        self.receivables: dict[str, int] = {}  # ledger invoice number -> its receivable line id
        self.cash = books.create_journal({"code": "CA", "label": "Caisse et banque (Partida)"})["id"]
        self.od = books.journal_by_code("OD")["id"]

    def account(self, account: mapping.Account) -> int:
        if account.customer:
            return int(self.customers[account.customer]["ledger_account_id"])
        if account.number not in self.accounts:
            found = self.books.account_by_number(account.number)
            self.accounts[account.number] = (found or self.books.add_account(account.number, account.label))["id"]
        return self.accounts[account.number]

    def customer(self, plan: mapping.CustomerPlan) -> Record:
        if plan.account.customer not in self.customers:
            path, body = mapping.customer_request(plan)
            kind = "company" if path == "/company_customers" else "individual"
            self.customers[plan.account.customer] = self.books.create_customer(kind, body)
        return self.customers[plan.account.customer]

    def push(self, txn: LedgerTxn) -> str:
        """The remote id of ``txn`` once posted."""
        target = mapping.plan(txn, idempotency_key("pennylane", txn.event_id, txn.seq))
        if target is None:
            return ""
        if isinstance(target, mapping.DocumentPlan):
            return self._document(target)
        return self._entry(target)

    def _document(self, doc: mapping.DocumentPlan) -> str:
        customer = self.customer(doc.customer)
        ids = {line.account: self.account(line.account) for line in doc.lines}
        invoice = self._create_invoice(mapping.document_body(doc, customer["id"], ids, {}))
        entry = self.books.table("ledger_entries")[str(invoice["ledger_entry_id"])]
        remote = [(line["ledger_account_id"], Decimal(line["debit"]) - Decimal(line["credit"]))
                  for line in self.books.entry_lines(entry)]
        difference = mapping.reconcile(((self.account(line.account), line.amount) for line in doc.local), remote)
        if difference:
            self.books.create_entry(mapping.reconciliation_body(doc, self.od, difference))
        self.receivables[doc.number] = invoice["receivable_line_id"]
        return str(invoice["id"])

    def _create_invoice(self, body: Record) -> Record:
        # create_invoice scans every invoice for a duplicate reference and the
        # last date: quadratic over 50,000 invoices. The keys are unique by
        # construction, so it sees an empty table and the record is put back.
        invoices = self.books.data["invoices"]
        self.books.data["invoices"] = {}
        try:
            record = create_invoice(self.books, body, enforce_chronology=False)
        finally:
            self.books.data["invoices"] = invoices
        invoices[str(record["id"])] = record
        return record

    def _entry(self, plan: mapping.EntryPlan) -> str:
        ids = {line.account: self.account(line.account) for line in plan.lines}
        journal = self.cash if plan.journal == "cash" else self.od
        entry = self.books.create_entry(mapping.entry_body(plan, journal, ids))
        if plan.invoice and plan.receivable_lines:
            own = {ids[line.account] for line in plan.receivable_lines}
            lines = [line["id"] for line in self.books.entry_lines(entry) if line["ledger_account_id"] in own]
            self.books.letter([self.receivables[plan.invoice], *lines], "partial")
        return str(entry["id"])


def write_sync_state(root: Path, txns: list[LedgerTxn], remote_ids: dict[int, str],
                     provider: str = "pennylane") -> None:
    """Every transaction synced, as the replay loop leaves it."""
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    (root / "sync").mkdir(exist_ok=True)
    conn = sqlite3.connect(root / "sync" / f"{provider}.sqlite3")
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO items VALUES (?, ?, ?, 'synced', ?, ?, 1, '', ?)", [
        (t.seq, t.event_id, t.date.isoformat(), idempotency_key(provider, t.event_id, t.seq), remote_ids[t.seq],
         now) for t in txns])
    conn.commit()
    conn.close()


# -- 2'. the QuickBooks side ------------------------------------------------------------------------------

class QuickBooksBuilder:
    """What the QuickBooks connector would have created, written into the sandbox's books through its own
    checks (``entities.write``), not over HTTP."""

    def __init__(self, books: Any) -> None:
        from connectors.quickbooks.charts import FR_PCG
        from connectors.quickbooks.sandbox.render import View, render

        self.books = books
        self.chart = FR_PCG
        self.customers: dict[str, str] = {}  # ledger component -> Id
        self.items: dict[str, str] = {}  # Sku -> Id
        self.accounts: dict[Any, str] = {}  # AccountSpec -> Id
        self.invoices: dict[str, str] = {}  # ledger number -> Id
        view = View(books)
        rates = {r["Id"]: r for r in books.records("TaxRate")}
        self.tax: dict[Decimal, Any] = {}
        for code in (render(view, "TaxCode", c) for c in books.records("TaxCode")):
            details = code["SalesTaxRateList"]["TaxRateDetail"]
            if len(details) != 1:
                continue
            rate_id = details[0]["TaxRateRef"]["value"]
            ref = qbo_mapping.TaxRef(code["Id"], rate_id)
            for rate, name in self.chart.tax_codes.items():
                if name == code["Name"]:
                    self.tax[rate] = ref
            value = Decimal(str(rates[rate_id].get("RateValue", "-1")))
            if value in self.chart.tax_codes:
                self.tax.setdefault(value, ref)

    def _write(self, entity: str, body: Record, *, alone: str | None = None) -> Record:
        """Create through the sandbox's schema and rules; ``alone`` hides a table the rules would scan
        whole for every record (its records are unique by construction)."""
        from connectors.quickbooks.client import dumps
        from connectors.quickbooks.sandbox.api import checked_body, parse_body
        from connectors.quickbooks.sandbox.entities import KINDS, write
        from connectors.quickbooks.sandbox.fields import Options

        kind = KINDS[entity]
        checked = checked_body(kind.schema, parse_body(dumps(body)))
        hidden = self.books.realm["entities"][alone] if alone else None
        if alone:
            self.books.realm["entities"][alone] = {}
        try:
            record = write(self.books, kind, "create", checked, Options(allow_duplicate_doc_number=True))
        finally:
            if alone:
                created = self.books.realm["entities"][alone]
                self.books.realm["entities"][alone] = hidden
                hidden.update(created)
        return record

    def account(self, spec: Any) -> str:
        if spec not in self.accounts:
            found = next((a for a in self.books.records("Account") if spec.number and a.get("AcctNum") == spec.number),
                         None) or next((a for a in self.books.records("Account")
                                        if a["Name"].casefold() == spec.name.casefold()), None)
            self.accounts[spec] = (found or self._write("Account", qbo_mapping.account_body(spec)))["Id"]
        return self.accounts[spec]

    def customer(self, plan: Any) -> str:
        if plan.component not in self.customers:
            name = f"{plan.name or plan.ref} ({plan.ref})"
            self.customers[plan.component] = self._write("Customer", qbo_mapping.customer_body(plan, name))["Id"]
        return self.customers[plan.component]

    def item(self, plan: Any) -> str:
        if plan.sku not in self.items:
            body = qbo_mapping.item_body(plan, plan.name, self.account(plan.account))
            self.items[plan.sku] = self._write("Item", body)["Id"]
        return self.items[plan.sku]

    def push(self, txn: LedgerTxn) -> str:
        """The remote id of ``txn`` once created."""
        key = idempotency_key("quickbooks", txn.event_id, txn.seq)
        target = qbo_mapping.plan(txn, key, self.chart)
        if isinstance(target, qbo_mapping.SalesPlan):
            items = {item.sku: self.item(item) for item in target.items}
            body = qbo_mapping.sales_body(target, self.customer(target.customer), items,
                                          {rate: self.tax[rate] for rate, _ in target.vat})
            record = self._write(target.entity, body)
            self.invoices[target.number] = record["Id"]
            return str(record["Id"])
        if isinstance(target, qbo_mapping.PaymentPlan):
            invoice = self.invoices[target.invoice] if target.invoice else None
            body = qbo_mapping.payment_body(target, self.customer(target.customer), self.account(target.deposit_to),
                                            invoice)
            return str(self._write("Payment", body, alone="Payment")["Id"])
        raise AssertionError(f"the bench ledger holds invoices and payments only, not {type(target).__name__}")


# -- 3. the audit ---------------------------------------------------------------------------------------

def serve_child(app: Any, urls: Any) -> None:
    serve(app, 0, on_ready=urls.put)


def run_audit(root: Path, base: str, workdir: Path, provider: str = "pennylane",
              creds: Credentials | None = None) -> tuple[float, int, dict[str, Any]]:
    tokens = workdir / f"tokens-{provider}.json"
    TokenStore(tokens).put(connection_key(provider, root), creds or Credentials("api_token", base, TOKEN))
    env = {k: v for k, v in os.environ.items() if k != "PARTIDA_RATE_LIMIT"}
    env["PARTIDA_TOKENS"] = str(tokens)
    began = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).parent / "partida"), "audit", provider, "--ledger",
                             str(root), "--from", "2026-01-01", "--to", "2026-12-31"], env=env,
                            capture_output=True, text=True)
    wall = time.perf_counter() - began
    print(result.stdout.splitlines()[-4:] if result.stdout else result.stderr, flush=True)
    kept = sorted((root / "audit").glob(f"{provider}-*.json"))[-1]
    return wall, result.returncode, json.loads(kept.read_text(encoding="utf-8"))


LIMITS = {"pennylane": (25, 5.0), "quickbooks": (500, 60.0)}


def report(documents: int, wall: float, code: int, body: dict[str, Any]) -> None:
    timing = body["timing"]
    remote, paced, requests = timing["remote_s"], timing.get("paced_s", 0.0), int(timing.get("requests", 0))
    local = wall - remote
    counts = body["summary"]["counts"]
    limit, window = LIMITS[body["provider"]]
    print(f"[{body['provider']}] audited {body['summary']['documents']:,} documents ({documents:,} built): "
          f"{counts}; exit {code}")
    print(f"requests: {requests:,} (at {limit} requests / {window:.0f} s, at least "
          f"{max(requests - limit, 0) * window / limit:.0f} s of rate limit)")
    print(f"total (wall time of `partida audit`): {wall:.1f} s")
    print(f"provider: {remote:.1f} s = waiting for the rate limit {paced:.1f} s "
          f"+ inside requests (sandbox work, HTTP) {remote - paced:.1f} s")
    print(f"local: {local:.1f} s = reading the ledger and comparing {timing['local_s']:.1f} s "
          f"+ process start, rendering, keeping the run {local - timing['local_s']:.1f} s")
    print(f"local share: {100 * local / wall:.1f} % of the total (target <= 20 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--provider", choices=("pennylane", "quickbooks", "both"), default="both")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workdir = Path(tmp)
        root = workdir / "ledger"
        began = time.perf_counter()
        build_ledger(root, args.documents)
        txns = ledger_txns(root)
        print(f"ledger: {len(txns):,} transactions in {time.perf_counter() - began:.0f} s", flush=True)
        if args.provider in ("pennylane", "both"):
            bench_pennylane(root, txns, workdir, args.documents)
        if args.provider in ("quickbooks", "both"):
            bench_quickbooks(root, txns, workdir, args.documents)


def bench_pennylane(root: Path, txns: list[LedgerTxn], workdir: Path, documents: int) -> None:
    began = time.perf_counter()
    app = create_app(rate_limit=(25, 5.0))  # the real limit
    sandbox = app.state.sandbox
    builder = RemoteBuilder(sandbox.books)
    remote_ids = {t.seq: builder.push(t) for t in txns}
    sandbox.add_company_token(TOKEN, SCOPES, "bench")
    write_sync_state(root, txns, remote_ids)
    print(f"sandbox: {json.dumps(dict(sorted(_counts(sandbox.books).items())))} "
          f"in {time.perf_counter() - began:.0f} s", flush=True)
    context = multiprocessing.get_context("fork")
    urls = context.Queue()
    child = context.Process(target=serve_child, args=(app, urls), daemon=True)
    child.start()
    try:
        base = urls.get(timeout=60)
        wall, code, body = run_audit(root, base, workdir)
    finally:
        child.terminate()
        child.join(10)
    report(documents, wall, code, body)


def bench_quickbooks(root: Path, txns: list[LedgerTxn], workdir: Path, documents: int) -> None:
    from connectors.quickbooks.sandbox import TOKEN_PATH
    from connectors.quickbooks.sandbox import create_app as quickbooks_app

    began = time.perf_counter()
    sandbox = quickbooks_app(edition="FR").state.sandbox
    realm = str(sandbox.store.data["default_realm"])
    books = sandbox.books(realm)
    builder = QuickBooksBuilder(books)
    remote_ids = {t.seq: builder.push(t) for t in txns}
    tokens = sandbox.mint_tokens(realm)
    state = workdir / "quickbooks-state.json"
    sandbox.store.path = state
    sandbox.store.save()
    write_sync_state(root, txns, remote_ids, "quickbooks")
    counts = {entity: len(books.table(entity)) for entity in ("Invoice", "Payment", "Customer", "Item", "Account")}
    print(f"sandbox: {json.dumps(counts)}, state {state.stat().st_size / 1e6:.0f} MB "
          f"in {time.perf_counter() - began:.0f} s", flush=True)
    # The real limits: `partida sandbox quickbooks` serves with 500 requests / min and 10 in flight.
    child = subprocess.Popen([str(Path(sys.executable).parent / "partida"), "sandbox", "quickbooks", "--state",
                              str(state)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        base = child.stdout.readline().strip()
        if not base.startswith("http://127.0.0.1:"):
            raise SystemExit(f"the QuickBooks sandbox did not start: {base!r}")
        creds = Credentials("oauth", base, tokens["access_token"], tokens["refresh_token"], time.time() + 3000,
                            base + TOKEN_PATH, tokens["client_id"], tokens["client_secret"], {"realmId": realm})
        wall, code, body = run_audit(root, base, workdir, "quickbooks", creds)
    finally:
        child.terminate()
        child.wait(30)
    report(documents, wall, code, body)


def _counts(books: Books) -> dict[str, int]:
    return {name: len(books.table(name)) for name in ("invoices", "ledger_entries", "ledger_lines", "letterings")}


if __name__ == "__main__":
    main()
