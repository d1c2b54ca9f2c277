"""``partida import quickbooks customers|items`` against a real sandbox, then ``partida sync quickbooks``.

A company already holds some of the example season's customers and products
(seeded through the sandbox's admin endpoints): found by e-mail, by name, by
Partida's marker, by Sku, one pair that only a person can tell apart, and
records the ledger does not know. The real CLI runs in a child process over
HTTP on 127.0.0.1; the references file, the sandbox's state and the sync's
result are checked.
"""

from __future__ import annotations

import json
import socket
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from conftest import partida
from qbo_support import Ledger
from qbo_support import Remote
from qbo_support import invoice_balance_differences
from qbo_support import sandbox
from qbo_support import season_ledger
from qbo_support import trial_balance_differences

from connectors.quickbooks import importer
from connectors.quickbooks import mapping
from connectors.quickbooks import references
from connectors.quickbooks import refsfile
from connectors.quickbooks.charts import FR_PCG
from connectors.quickbooks.importer import Local
from connectors.quickbooks.importer import Remote as RemoteRecord
from connectors.quickbooks.sandbox.app import REVOKE_PATH
from connectors.quickbooks.sandbox.app import TOKEN_PATH
from connectors.tokens import Credentials
from connectors.tokens import TokenStore
from connectors.tokens import connection_key

FAST = {"PARTIDA_RATE_LIMIT": "100000/1"}


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    return season_ledger(tmp_path_factory.mktemp("qbo-import") / "ledger")


@dataclass
class World:
    ledger: Ledger
    remote: Remote
    env: dict[str, str]
    secrets: tuple[str, ...] = field(repr=False)

    @property
    def file(self) -> Path:
        return refsfile.path(self.ledger.root)

    def cli(self, *args: str) -> Any:
        return partida(*args, "--ledger", str(self.ledger.root), env=self.env)

    def import_(self, what: str, *options: str) -> tuple[int, dict[str, Any]]:
        result = self.cli("import", "quickbooks", what, "--format", "json", *options)
        assert result.returncode in (0, 1), result.stderr
        assert "Traceback" not in result.stderr
        return result.returncode, json.loads(result.stdout)

    def seed(self, entity: str, body: dict[str, Any]) -> str:
        answer = self.remote.admin.post(f"/sandbox/companies/{self.remote.realm}/{entity.lower()}", json=body)
        assert answer.status_code == 201, answer.text
        record = answer.json()
        return str(record.get(entity, record)["Id"])

    def records(self, entity: str) -> list[dict[str, Any]]:
        return self.remote.connector().api.query(f"SELECT * FROM {entity}")

    def refs(self) -> dict[str, Any]:
        return tomllib.loads(self.file.read_text(encoding="utf-8"))


def connect(remote: Remote, ledger: Path, tokens: Path,
            base: str | None = None) -> tuple[dict[str, str], tuple[str, ...]]:
    """Credentials for ``ledger`` as `partida connect --oauth` stores them (a real token pair)."""
    minted = remote.admin.post(f"/sandbox/companies/{remote.realm}/tokens").json()
    creds = Credentials("oauth", base or remote.base, minted["access_token"], minted["refresh_token"],
                        time.time() + 3000, f"{remote.base}{TOKEN_PATH}", minted["client_id"],
                        minted["client_secret"], {"realmId": remote.realm})
    TokenStore(tokens).put(connection_key("quickbooks", ledger), creds)
    return {"PARTIDA_TOKENS": str(tokens), **FAST}, (minted["access_token"], minted["refresh_token"],
                                                     minted["client_secret"])


@pytest.fixture
def world(season: Ledger, tmp_path: Path) -> Iterator[World]:
    ledger = season.copy(tmp_path / "ledger")
    with sandbox() as remote:
        env, secrets = connect(remote, ledger.root, tmp_path / "tokens.json")
        yield World(ledger, remote, env, secrets)


def by_ref(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["ref"]: row for row in report["rows"] if row["ref"] is not None}


def remote_id(row: dict[str, Any]) -> str:
    return str(row["remote"]["id"])


# -- the whole set-up, then a sync -----------------------------------------------------------------------

def seed_customers(world: World) -> dict[str, str]:
    seed = world.seed
    return {
        "email": seed("Customer", {"DisplayName": "Giraud, Hugo",
                                   "PrimaryEmailAddr": {"Address": "HUGO.Giraud@example.org"}}),
        "name": seed("Customer", {"DisplayName": "thomas   DUPRÉ"}),
        "lea1": seed("Customer", {"DisplayName": "Léa F.", "PrimaryEmailAddr": {"Address": "lea.faure@example.org"}}),
        "lea2": seed("Customer", {"DisplayName": "L. Faure (famille)", "PrimaryEmailAddr": {
            "Address": "famille.faure@example.org, lea.faure@example.org"}}),
        "marker": seed("Customer", {"DisplayName": "Claire N.", "Notes": references.customer_marker("CUST-0004")}),
        "jerome": seed("Customer", {"DisplayName": "Jérôme Lemaître",
                                    "PrimaryEmailAddr": {"Address": "jerome.lemaitre@example.com"}}),
        "jerome2": seed("Customer", {"DisplayName": "Cabinet Lemaître",
                                     "PrimaryEmailAddr": {"Address": "jerome.lemaitre@example.com"}}),
        "acme": seed("Customer", {"DisplayName": "Acme SARL", "CompanyName": "Acme SARL"}),
    }


def seed_items(world: World) -> dict[str, str]:
    finder = world.remote.connector()  # the FR company has them; else they are created
    accounts = {n: finder.account_id(FR_PCG.accounts[n]) or world.seed("Account", mapping.account_body(
        FR_PCG.accounts[n])) for n in ("706", "707")}

    def item(name: str, account: str, **extra: Any) -> str:
        body = {"Name": name, "Type": "NonInventory" if account == "707" else "Service",
                "IncomeAccountRef": {"value": accounts[account]}, **extra}
        return world.seed("Item", body)

    return {
        "sku": item("Chaussettes", "707", Sku="P-CHS-01"),
        "name": item("gourde inox 50 CL", "707"),
        "nougat1": item("Nougat 100 g", "707", Sku="P-NOU-100"),
        "nougat2": item("Nougat (boîte)", "707", Sku="P-NOU-100"),
        "service": item("Prestations de services", "706"),
        "tshirt": item("T-shirt Gorges Vives", "706"),  # the ledger sells it on 707
        "remote": item("Consulting hour", "706"),
        "category": world.seed("Item", {"Name": "Boutique", "Type": "Category"}),
    }


def decide(world: World, ref: str, ident: str) -> None:
    text = world.file.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith(f'"{ref}" = "?"'))
    world.file.write_text(text.replace(line, f'"{ref}" = "{ident}"'), encoding="utf-8")


def test_import_then_sync_uses_the_companys_records_and_creates_no_duplicate(world: World) -> None:
    customers = seed_customers(world)
    items = seed_items(world)
    locals_, local_items = importer.ledger_entries(world.ledger.txns, FR_PCG)

    # Customers: matched by each key, one ambiguous pair, the rest created now.
    code, report = world.import_("customers")
    assert code == 1
    rows = by_ref(report)
    assert set(rows) == set(locals_)
    assert (rows["CUST-0001"]["status"], rows["CUST-0001"]["by"], remote_id(rows["CUST-0001"])) == \
        ("matched", "email", customers["email"])
    assert (rows["CUST-0002"]["by"], remote_id(rows["CUST-0002"])) == ("name", customers["name"])
    assert (rows["CUST-0004"]["by"], remote_id(rows["CUST-0004"])) == ("marker", customers["marker"])
    assert (rows["CUST-0005"]["by"], remote_id(rows["CUST-0005"])) == ("email+name", customers["jerome"])
    lea = rows["CUST-0003"]
    assert lea["status"] == "ambiguous" and lea["remote"] is None
    assert sorted(c["id"] for c in lea["candidates"]) == sorted([customers["lea1"], customers["lea2"]])
    created = {ref for ref, row in rows.items() if row["status"] == "created"}
    assert created == set(locals_) - {"CUST-0001", "CUST-0002", "CUST-0003", "CUST-0004", "CUST-0005"}
    remote_only = {row["remote"]["id"] for row in report["rows"] if row["status"] == "remote-only"}
    assert remote_only == {customers["acme"], customers["jerome2"]}
    assert report["summary"]["created"] == len(created) and report["written"]

    remote_customers = {r["Id"]: r for r in world.records("Customer")}
    assert len(remote_customers) == len(customers) + len(created)
    for ref in created:  # created the way a sync creates: with Partida's marker
        assert references.marker_ref(remote_customers[remote_id(rows[ref])].get("Notes")) == ref
    stored = world.refs()
    assert stored["realm"] == world.remote.realm
    assert stored["customers"] == {ref: ("?" if ref == "CUST-0003" else remote_id(row)) for ref, row in rows.items()}

    # While an entry waits for a decision, the sync refuses to run and sends nothing.
    before = world.remote.company()["counts"]
    refused = world.cli("sync", "quickbooks", "--since", "2000-01-01")
    assert refused.returncode == 1 and "ambiguous" in refused.stderr and str(world.file) in refused.stderr
    assert "partida connect" not in refused.stderr and "Traceback" not in refused.stderr
    assert world.remote.company()["counts"] == before

    decide(world, "CUST-0003", customers["lea2"])
    code, again = world.import_("customers")
    rows = by_ref(again)
    assert code == 0 and (rows["CUST-0003"]["by"], remote_id(rows["CUST-0003"])) == ("file", customers["lea2"])
    assert again["summary"]["created"] == 0 and world.remote.company()["counts"] == before

    # Items: by Sku, by name, an ambiguous Sku, an income account that differs.
    code, report = world.import_("items")
    assert code == 1
    rows = by_ref(report)
    assert set(rows) == set(local_items)
    assert (rows["P-CHS-01"]["by"], remote_id(rows["P-CHS-01"])) == ("sku", items["sku"])
    assert (rows["P-GOU-01"]["by"], remote_id(rows["P-GOU-01"])) == ("name", items["name"])
    assert (rows["partida-706"]["by"], remote_id(rows["partida-706"])) == ("name", items["service"])
    assert rows["P-NOU-100"]["status"] == "ambiguous"
    assert sorted(c["id"] for c in rows["P-NOU-100"]["candidates"]) == sorted([items["nougat1"], items["nougat2"]])
    tshirt = rows["P-TSH-01"]
    assert remote_id(tshirt) == items["tshirt"] and "another income account" in tshirt["note"]
    remote_only = {row["remote"]["id"] for row in report["rows"] if row["status"] == "remote-only"}
    assert remote_only == {items["remote"]}  # the category is no sale item: left out
    assert world.refs()["customers"]["CUST-0003"] == customers["lea2"]  # the other table is kept
    decide(world, "P-NOU-100", items["nougat1"])
    code, report = world.import_("items")
    assert code == 0

    # The sync uses the imported Ids: no customer created, one item only (the
    # T-shirt's variant on the ledger's income account), the books agree.
    counts = world.remote.company()["counts"]
    item_names = {r["Name"] for r in world.records("Item")}
    synced = world.cli("sync", "quickbooks", "--since", "2000-01-01")
    assert synced.returncode == 0, synced.stderr
    after = world.remote.company()["counts"]
    assert after["Customer"] == counts["Customer"]
    assert {r["Name"] for r in world.records("Item")} - item_names == {"T-shirt Gorges Vives (Ventes de marchandises)"}
    assert after["Item"] == counts["Item"] + 1
    stored = world.refs()
    assert_documents_use(world, stored)
    connector = world.remote.connector()
    assert trial_balance_differences(connector, world.ledger) == {}
    assert invoice_balance_differences(connector, world.ledger) == {}

    # Running the import again changes nothing, anywhere.
    text = world.file.read_bytes()
    for what in ("customers", "items"):
        code, report = world.import_(what)
        assert code == 0 and not report["written"]
        assert {row["status"] for row in report["rows"]} <= {"matched", "remote-only"}
        assert {row["by"] for row in report["rows"] if row["status"] == "matched"} == {"file"}
    assert world.file.read_bytes() == text and world.remote.company()["counts"] == after


def assert_documents_use(world: World, stored: dict[str, Any]) -> None:
    """Every invoice and credit memo names the customer and items the file gives its refs."""
    expected: dict[str, tuple[str, set[str]]] = {}
    for _, target in world.ledger.plans():
        if isinstance(target, mapping.SalesPlan):
            skus = {line.item.sku for line in target.lines if line.item.sku != "P-TSH-01"}
            expected[references.doc_number(target.number)] = (
                stored["customers"][target.customer.ref], {stored["items"][sku] for sku in skus})
    seen = 0
    for entity in ("Invoice", "CreditMemo"):
        for doc in world.records(entity):
            customer, item_ids = expected[doc["DocNumber"]]
            lines = [line["SalesItemLineDetail"]["ItemRef"]["value"] for line in doc["Line"]
                     if line.get("DetailType") == "SalesItemLineDetail"]
            assert doc["CustomerRef"]["value"] == customer
            assert item_ids <= set(lines)
            seen += 1
    assert seen == len(expected) > 50


# -- dry run, paging, errors ---------------------------------------------------------------------------------

def test_a_dry_run_creates_nothing_and_writes_nothing(world: World) -> None:
    seed_customers(world)
    before = world.remote.company()["counts"]
    code, report = world.import_("customers", "--dry-run")
    assert code == 1 and report["dry_run"] and not report["written"]
    assert report["summary"]["create"] > 60 and report["summary"]["created"] == 0
    assert not world.file.exists() and world.remote.company()["counts"] == before
    plain = world.cli("import", "quickbooks", "customers", "--dry-run")  # not a TTY: plain lines
    assert plain.returncode == 1
    assert "dry run: nothing created" in plain.stdout.splitlines()[-1]
    assert any(line.startswith("ambiguous") and "CUST-0003" in line for line in plain.stdout.splitlines())
    assert "replace each \"?\"" in plain.stderr


def test_every_page_of_customers_is_read(world: World) -> None:
    connector = world.remote.connector()
    bodies = [{"DisplayName": f"Client distant {n:04d}"} for n in range(1010)]  # over one 1000-row page
    for start in range(0, len(bodies), 30):
        chunk = bodies[start:start + 30]
        answers = connector.api.batch([{"bId": f"b{i}", "operation": "create", "Customer": body}
                                       for i, body in enumerate(chunk)], None)
        assert all(isinstance(a, dict) for a in answers)
    code, report = world.import_("customers", "--dry-run")
    assert code == 0
    remote_only = {row["name"] for row in report["rows"] if row["status"] == "remote-only"}
    assert remote_only == {body["DisplayName"] for body in bodies}


def assert_one_clear_line(result: Any, *words: str, secrets: tuple[str, ...] = ()) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]
    for secret in secrets:
        assert secret not in result.stdout + result.stderr


def test_not_connected_revoked_or_down_is_one_clear_line(world: World, tmp_path: Path) -> None:
    args = ("import", "quickbooks", "customers", "--ledger", str(world.ledger.root))
    unconnected = partida(*args, env={"PARTIDA_TOKENS": str(tmp_path / "none.json"), **FAST})
    assert_one_clear_line(unconnected, "not connected to quickbooks", "partida connect quickbooks")

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    env, secrets = connect(world.remote, world.ledger.root, tmp_path / "down.json", base=f"http://127.0.0.1:{port}")
    assert_one_clear_line(partida(*args, env=env), "not answering", "run the import again", secrets=secrets)

    store = TokenStore(Path(world.env["PARTIDA_TOKENS"]))
    creds = store.get(connection_key("quickbooks", world.ledger.root))
    assert creds is not None
    revoked = world.remote.admin.post(REVOKE_PATH, auth=(creds.client_id, creds.client_secret),
                                      json={"token": creds.refresh_token})
    assert revoked.status_code == 200
    assert_one_clear_line(world.cli("import", "quickbooks", "items"), "refused", "partida connect quickbooks",
                          secrets=world.secrets)
    assert not world.file.exists()


def test_a_file_of_another_company_or_a_bad_value_stops_import_and_sync(world: World) -> None:
    world.file.parent.mkdir(parents=True, exist_ok=True)
    world.file.write_text('realm = "999"\n[customers]\n"CUST-0001" = "1"\n', encoding="utf-8")
    for args in (("import", "quickbooks", "customers"), ("sync", "quickbooks")):
        result = world.cli(*args)
        assert result.returncode != 0 and "company 999" in result.stderr and "Traceback" not in result.stderr
    world.file.write_text(f'realm = "{world.remote.realm}"\n[items]\n"P-CHS-01" = "twelve!"\n', encoding="utf-8")
    result = world.cli("sync", "quickbooks")
    assert result.returncode == 1 and "P-CHS-01" in result.stderr and "twelve!" in result.stderr
    assert world.remote.company()["counts"]["Invoice"] == 0


# -- matching, unit by unit (pure) ------------------------------------------------------------------------------

def local(ref: str, name: str, email: str = "") -> Local:
    return importer.local_customer(mapping.CustomerPlan(f"C-{ref}", ref, name, "individual", email or None))


def remote(ident: str, name: str, email: str = "", notes: str = "") -> RemoteRecord:
    record = {"Id": ident, "DisplayName": name, "Notes": notes or None,
              "PrimaryEmailAddr": {"Address": email} if email else None}
    return importer.remote_customer(record)


def test_a_name_shared_by_two_ledger_customers_is_never_guessed() -> None:
    plan = importer.match("customers", [local("A", "Marie Durand"), local("B", "marie durand")],
                          [remote("7", "Marie  Durand")], importer.CUSTOMER_KEYS)
    assert [(r.status, r.ref) for r in plan.rows] == [("ambiguous", "A"), ("ambiguous", "B")]
    assert plan.rows[0].candidates[0].id == "7" and "B" in plan.rows[0].note
    assert plan.decisions() == {"A": "?", "B": "?"}


def test_a_record_held_by_an_ambiguous_entry_is_not_given_to_a_weaker_key() -> None:
    # A's e-mail points to 1 and 2; B's name is 2's: choosing for B would choose for A.
    plan = importer.match("customers", [local("A", "Anne", "x@y.fr"), local("B", "Bob Martin")],
                          [remote("1", "Anne M.", "x@y.fr"), remote("2", "Bob Martin", "x@y.fr")],
                          importer.CUSTOMER_KEYS)
    assert [(r.status, r.ref) for r in plan.rows] == [("ambiguous", "A"), ("ambiguous", "B")]
    # A person decides A -> 1: B is then matched by name, nothing else moves.
    plan = importer.match("customers", [local("A", "Anne", "x@y.fr"), local("B", "Bob Martin")],
                          [remote("1", "Anne M.", "x@y.fr"), remote("2", "Bob Martin", "x@y.fr")],
                          importer.CUSTOMER_KEYS, {"A": "1"})
    assert [(r.status, r.by, r.remote.id if r.remote else None) for r in plan.rows] == \
        [("matched", "file", "1"), ("matched", "name", "2")]


def test_file_decisions_win_and_a_vanished_id_is_matched_again() -> None:
    ledger = [local("A", "Anne", "a@x.fr"), local("B", "Bob")]
    remotes = [remote("1", "Anne", "a@x.fr"), remote("2", "Bob", notes=references.customer_marker("B"))]
    plan = importer.match("customers", ledger, remotes, importer.CUSTOMER_KEYS, {"A": "new", "B": "40", "Z": "3"})
    assert [(r.status, r.by) for r in plan.rows] == [("create", "file"), ("matched", "marker"), ("remote-only", "")]
    assert "Id 40" in plan.rows[1].note and plan.unknown == ("Z",)
