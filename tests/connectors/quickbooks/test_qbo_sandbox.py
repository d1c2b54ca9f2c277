"""The QuickBooks Online sandbox, exercised over real HTTP on 127.0.0.1 with httpx.

Amounts come back as JSON numbers; the tests read them with
``parse_float=Decimal`` (``body()``) so every comparison is exact.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import json
import os
import socket
import stat
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import httpx
from sandbox_process import sandbox_main
import pytest

from connectors.quickbooks import xsd
from connectors.quickbooks.sandbox import create_app
from connectors.quickbooks.sandbox.schemas import ENTITY_SCHEMAS
from connectors.sandbox.faults import parse_fault_plan
from connectors.sandbox.faults import preview
from connectors.sandbox.schema import Arr
from connectors.sandbox.schema import Obj
from connectors.sandbox.server import running

ROOT = Path(__file__).resolve().parents[3]
XSD_DIR = ROOT / ".." / "shared" / "specs" / "quickbooks" / "xsd"
REDIRECT = "http://127.0.0.1:9/callback"
JUNE_15 = datetime.datetime(2026, 6, 15, 19, tzinfo=datetime.UTC).timestamp()
D = Decimal


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def body(answer: httpx.Response) -> Any:
    """The JSON of an answer, numbers as ``Decimal``."""
    return json.loads(answer.content, parse_float=Decimal)


def fault_code(answer: httpx.Response) -> tuple[int, str]:
    """``(status, first error code)`` of a Fault answer (either casing)."""
    data = body(answer)
    fault = data.get("Fault") or data.get("fault")
    errors = fault.get("Error") or fault.get("error")
    return answer.status_code, errors[0]["code"]


# -- fixtures -----------------------------------------------------------------------------

@dataclasses.dataclass
class Qbo:
    """A running sandbox, its default company and clients for it."""

    base: str
    app: Any
    wall: FakeClock
    stack: contextlib.ExitStack
    realm: str
    keys: dict[str, dict[str, str]]

    def raw(self) -> httpx.Client:
        """A client for the OAuth and ``/sandbox/`` endpoints."""
        return self.stack.enter_context(httpx.Client(base_url=self.base, timeout=10))

    def tokens(self, realm: str | None = None) -> dict[str, Any]:
        answer = self.raw().post(f"/sandbox/companies/{realm or self.realm}/tokens")
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def api(self, token: str | None = None, realm: str | None = None) -> httpx.Client:
        """A client for ``/v3/company/{realm}`` with a fresh (or given) access token."""
        realm = realm or self.realm
        token = token if token is not None else self.tokens(realm)["access_token"]
        headers = {"accept": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
        client = httpx.Client(base_url=f"{self.base}/v3/company/{realm}", headers=headers, timeout=10,
                              params={"minorversion": "75"})
        return self.stack.enter_context(client)

    def state(self, realm: str | None = None) -> dict[str, Any]:
        return dict(self.raw().get("/sandbox/state").json()["realms"][realm or self.realm])

    def account(self, key: str) -> str:
        return self.keys["accounts"][key]

    def code(self, key: str) -> str:
        return self.keys["tax_codes"][key]

    def company(self, edition: str) -> tuple[str, dict[str, dict[str, str]]]:
        answer = self.raw().post("/sandbox/companies", json={"edition": edition})
        assert answer.status_code == 201, answer.text
        data = answer.json()
        return data["realmId"], {"accounts": data["accounts"], "tax_codes": data["tax_codes"]}


@pytest.fixture
def make_qbo() -> Iterator[Callable[..., Qbo]]:
    """Start sandboxes (stopped at the end of the test); options go to ``create_app``."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> Qbo:
            wall = options.pop("wall_clock", None) or FakeClock(JUNE_15)
            options.setdefault("rate_limit", (10_000, 60.0))
            options.setdefault("batch_rate_limit", (10_000, 60.0))
            app = create_app(wall_clock=wall, **options)
            base = stack.enter_context(running(app))
            companies = httpx.get(base + "/sandbox/companies", timeout=10).json()
            first = companies["companies"][0]
            keys = {"accounts": first["accounts"], "tax_codes": first["tax_codes"]}
            return Qbo(base, app, wall, stack, companies["default_realm"], keys)

        yield start


@pytest.fixture
def qbo(make_qbo: Callable[..., Qbo]) -> Qbo:
    return make_qbo()


# -- payloads (also checked against Intuit's XSD) ---------------------------------------------

def customer_body(name: str) -> dict[str, Any]:
    return {"DisplayName": name, "CompanyName": name, "PrimaryEmailAddr": {"Address": "ap@example.org"},
            "BillAddr": {"Line1": "1 rue du Port", "City": "Montréal", "CountrySubDivisionCode": "QC",
                         "PostalCode": "H2X 1Y4", "Country": "CA"}}


def item_body(name: str, income_account: str, code: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"Name": name, "Type": "Service", "UnitPrice": 120,
                            "IncomeAccountRef": {"value": income_account}}
    if code:
        item["SalesTaxCodeRef"] = {"value": code}
    return item


def sales_line(item: str, amount: str, code: str | None, qty: str = "1", price: str | None = None,
               ) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item}, "Qty": D(qty), "UnitPrice": D(price or amount)}
    if code is not None:
        detail["TaxCodeRef"] = {"value": code}
    return {"DetailType": "SalesItemLineDetail", "Amount": D(amount), "Description": "Kayak, 2 h",
            "SalesItemLineDetail": detail}


def sales_body(customer: str, number: str | None, lines: list[dict[str, Any]], date: str = "2026-06-01",
               **extra: Any) -> dict[str, Any]:
    document = {"CustomerRef": {"value": customer}, "TxnDate": date, "GlobalTaxCalculation": "TaxExcluded",
                "Line": lines, **extra}
    if number is not None:
        document["DocNumber"] = number
    return document


def payment_body(customer: str, total: str, links: Sequence[tuple[str, str, str]] = (),
                 **extra: Any) -> dict[str, Any]:
    """``links``: ``(TxnType, TxnId, amount)``."""
    return {"CustomerRef": {"value": customer}, "TotalAmt": D(total), "TxnDate": "2026-06-05",
            "PaymentRefNum": "ch_123",
            "Line": [{"Amount": D(value), "LinkedTxn": [{"TxnId": ident, "TxnType": kind}]}
                     for kind, ident, value in links], **extra}


def journal_line(posting: str, account: str, amount: str, customer: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"PostingType": posting, "AccountRef": {"value": account}}
    if customer is not None:
        detail["Entity"] = {"Type": "Customer", "EntityRef": {"value": customer}}
    return {"DetailType": "JournalEntryLineDetail", "Amount": D(amount), "JournalEntryLineDetail": detail}


def post(api: httpx.Client, entity: str, document: dict[str, Any], **params: str) -> dict[str, Any]:
    answer = api.post(f"/{entity.lower()}", json=_numbers(document), params=params)
    assert answer.status_code == 200, answer.text
    return dict(body(answer)[entity])


def _numbers(value: Any) -> Any:
    # httpx's JSON encoder knows no Decimal; a float prints as the same short
    # text (344.93), which the sandbox reads back as an exact Decimal.
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


@dataclasses.dataclass
class Shop:
    """A customer and an item of the default (Québec) company."""

    api: httpx.Client
    customer: str
    item: str
    gst_qst: str


def shop(qbo: Qbo, name: str = "Acme") -> Shop:
    api = qbo.api()
    customer = post(api, "Customer", customer_body(name))["Id"]
    item = post(api, "Item", item_body(f"Kayak {name}", qbo.account("services"), qbo.code("gst_qst")))["Id"]
    return Shop(api, customer, item, qbo.code("gst_qst"))


def tax_lines(invoice: dict[str, Any]) -> list[Decimal]:
    return [line["Amount"] for line in invoice["TxnTaxDetail"]["TaxLine"]]


# -- OAuth -------------------------------------------------------------------------------------

def register_client(qbo: Qbo) -> dict[str, str]:
    answer = qbo.raw().post("/sandbox/oauth_clients", json={"redirect_uris": [REDIRECT]})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def basic(client: dict[str, str]) -> dict[str, str]:
    pair = f"{client['client_id']}:{client['client_secret']}".encode()
    return {"authorization": "Basic " + base64.b64encode(pair).decode(), "accept": "application/json"}


def redirect_query(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def code_flow(qbo: Qbo, client: dict[str, str], **params: str) -> dict[str, Any]:
    query = {"client_id": client["client_id"], "redirect_uri": REDIRECT, "response_type": "code",
             "scope": "com.intuit.quickbooks.accounting", "state": "csrf-1", "auto_approve": "1", **params}
    back = redirect_query(qbo.raw().get("/connect/oauth2", params=query))
    assert back["state"] == "csrf-1"
    answer = qbo.raw().post("/oauth2/v1/tokens/bearer", headers=basic(client),
                            data={"grant_type": "authorization_code", "code": back["code"], "redirect_uri": REDIRECT})
    assert answer.status_code == 200, answer.text
    return {**answer.json(), "realmId": back["realmId"]}


def refresh(qbo: Qbo, client: dict[str, str], token: str) -> httpx.Response:
    return qbo.raw().post("/oauth2/v1/tokens/bearer", headers=basic(client),
                          data={"grant_type": "refresh_token", "refresh_token": token})


def test_oauth_code_flow_names_the_company_and_answers_like_intuit(qbo: Qbo) -> None:
    other, _ = qbo.company("US")
    client = register_client(qbo)
    tokens = code_flow(qbo, client)
    assert tokens["realmId"] == qbo.realm  # the default company
    assert set(tokens) == {"token_type", "access_token", "expires_in", "refresh_token",
                           "x_refresh_token_expires_in", "realmId"}
    assert (tokens["token_type"], tokens["expires_in"], tokens["x_refresh_token_expires_in"]) == \
        ("bearer", 3600, 8_726_400)
    assert qbo.api(tokens["access_token"]).get(f"/companyinfo/{qbo.realm}").json()["CompanyInfo"]["Country"] == "CA"
    chosen = code_flow(qbo, client, realm_id=other)
    assert chosen["realmId"] == other
    # A token opens its own company only.
    assert fault_code(qbo.api(chosen["access_token"]).get("/preferences")) == (403, "3100")
    unknown = qbo.raw().get("/connect/oauth2", params={
        "client_id": client["client_id"], "redirect_uri": REDIRECT, "response_type": "code",
        "scope": "com.intuit.quickbooks.accounting", "realm_id": "42", "auto_approve": "1"})
    assert redirect_query(unknown)["error"] == "invalid_request"
    form = {"client_id": client["client_id"], "redirect_uri": REDIRECT, "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting", "state": "st-2", "realm_id": other}
    page = qbo.raw().get("/connect/oauth2", params=form)
    assert page.status_code == 200 and "Approve" in page.text and other in page.text
    approved = redirect_query(qbo.raw().post("/connect/oauth2", data={**form, "decision": "approve"}))
    assert (approved["realmId"], approved["state"]) == (other, "st-2")
    denied = redirect_query(qbo.raw().post("/connect/oauth2", data={**form, "decision": "deny"}))
    assert denied["error"] == "access_denied"
    discovery = qbo.raw().get("/.well-known/openid_configuration").json()
    assert discovery["token_endpoint"].endswith("/oauth2/v1/tokens/bearer")


def test_refresh_rotates_and_a_superseded_refresh_token_is_invalid_grant(qbo: Qbo) -> None:
    client = register_client(qbo)
    first = code_flow(qbo, client)
    second = refresh(qbo, client, first["refresh_token"])
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"] and pair["access_token"] != first["access_token"]
    reuse = refresh(qbo, client, first["refresh_token"])
    assert (reuse.status_code, reuse.json()["error"]) == (400, "invalid_grant")
    # The old access token lives out its hour; both work until then.
    assert qbo.api(first["access_token"]).get("/preferences").status_code == 200
    assert qbo.api(pair["access_token"]).get("/preferences").status_code == 200
    qbo.wall.advance(3601)
    expired = qbo.api(pair["access_token"]).get("/preferences")
    assert fault_code(expired) == (401, "3200")
    assert body(expired)["fault"]["type"] == "AUTHENTICATION"  # the gateway's lowercase shape
    third = refresh(qbo, client, pair["refresh_token"]).json()
    assert qbo.api(third["access_token"]).get("/preferences").status_code == 200
    qbo.raw().post("/sandbox/oauth/expire_access_tokens")
    assert qbo.api(third["access_token"]).get("/preferences").status_code == 401


def test_revoke_takes_intuits_json_body_and_kills_the_pair(qbo: Qbo) -> None:
    client = register_client(qbo)
    tokens = code_flow(qbo, client)
    answer = qbo.raw().post("/v2/oauth2/tokens/revoke", headers=basic(client),
                            json={"token": tokens["refresh_token"]})
    assert answer.status_code == 200
    assert qbo.api(tokens["access_token"]).get("/preferences").status_code == 401
    assert refresh(qbo, client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    wrong = qbo.raw().post("/oauth2/v1/tokens/bearer", headers=basic({**client, "client_secret": "nope"}),
                           data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")


def test_every_api_call_needs_a_token(qbo: Qbo) -> None:
    assert fault_code(qbo.api(token="").get("/preferences")) == (401, "3200")
    assert fault_code(qbo.api(token="forged").get("/preferences")) == (401, "3200")
    scoped = qbo.raw().post(f"/sandbox/companies/{qbo.realm}/tokens", json={"scope": "openid"}).json()
    assert fault_code(qbo.api(scoped["access_token"]).get("/preferences")) == (403, "3100")
    answer = qbo.api().get("/preferences")
    assert answer.status_code == 200 and answer.headers["intuit_tid"]
    assert body(answer)["Preferences"]["CurrencyPrefs"]["HomeCurrency"]["value"] == "CAD"


# -- entities and queries ---------------------------------------------------------------------------

def test_names_are_created_read_and_unique(qbo: Qbo) -> None:
    api = qbo.api()
    customer = post(api, "Customer", customer_body("Gîtes du Lac"))
    assert (customer["SyncToken"], customer["Balance"], customer["Active"]) == ("0", D("0.0"), True)
    read = body(api.get(f"/customer/{customer['Id']}"))["Customer"]
    assert read["DisplayName"] == "Gîtes du Lac" and read["BillAddr"]["City"] == "Montréal"
    duplicate = api.post("/customer", json={"DisplayName": "  gîtes du lac "})
    assert fault_code(duplicate) == (400, "6240")
    person = post(api, "Customer", {"GivenName": "Jeanne", "FamilyName": "Tremblay"})
    assert person["DisplayName"] == "Jeanne Tremblay"
    assert fault_code(api.post("/customer", json={"Notes": "no name"})) == (400, "2020")
    account = post(api, "Account", {"Name": "Customer Deposits QC", "AccountType": "Other Current Liability",
                                    "AcctNum": "2400"})
    assert (account["Classification"], account["AccountSubType"]) == ("Liability", "OtherCurrentLiabilities")
    sub = post(api, "Account", {"Name": "Stripe", "AccountType": "Bank", "ParentRef": {"value": qbo.account("bank")}})
    assert sub["FullyQualifiedName"] == "Chequing:Stripe" and sub["SubAccount"] is True
    assert fault_code(api.post("/item", json={"Name": "No account", "Type": "Service"})) == (400, "2020")
    missing = api.post("/item", json=item_body("Ghost", "999999"))
    assert fault_code(missing) == (400, "2500")
    assert fault_code(api.get("/customer/999999")) == (400, "610")
    tax_code = body(api.get(f"/taxcode/{qbo.code('gst_qst')}"))["TaxCode"]
    rates = [detail["TaxRateRef"]["name"] for detail in tax_code["SalesTaxRateList"]["TaxRateDetail"]]
    assert (tax_code["Name"], rates) == ("GST/QST QC", ["GST", "QST"])
    assert fault_code(api.post("/taxcode", json={"Name": "X"})) == (400, "500")
    assert fault_code(api.post("/customer", params={"operation": "delete"},
                               json={"Id": customer["Id"], "SyncToken": "0"})) == (400, "500")


def query(api: httpx.Client, statement: str) -> dict[str, Any]:
    answer = api.get("/query", params={"query": statement})
    assert answer.status_code == 200, answer.text
    return dict(body(answer)["QueryResponse"])


def test_query_language(qbo: Qbo) -> None:
    s = shop(qbo)
    ids = [post(s.api, "Invoice", sales_body(s.customer, f"Q-{n}", [sales_line(s.item, f"{n}0.00", s.gst_qst)],
                                             date=f"2026-0{n}-01"))["Id"] for n in range(1, 6)]
    found = query(s.api, "select * from Invoice where DocNumber = 'Q-3'")
    assert [i["Id"] for i in found["Invoice"]] == [ids[2]] and found["startPosition"] == 1
    assert [i["DocNumber"] for i in query(s.api, "SELECT * FROM invoice WHERE DocNumber IN ('Q-1', 'Q-5') "
                                                 "ORDERBY DocNumber DESC")["Invoice"]] == ["Q-5", "Q-1"]
    window = query(s.api, "select * from Invoice where TxnDate > '2026-01-15' and TxnDate < '2026-04-15'")
    assert [i["DocNumber"] for i in window["Invoice"]] == ["Q-2", "Q-3", "Q-4"]
    assert len(query(s.api, "select * from Invoice where DocNumber like 'Q-%'")["Invoice"]) == 5
    assert len(query(s.api, f"select * from Invoice where CustomerRef = '{s.customer}' and TotalAmt >= '40'")
               ["Invoice"]) == 2
    assert query(s.api, "select count(*) from Invoice")["totalCount"] == 5
    page = query(s.api, "select * from Invoice orderby TxnDate STARTPOSITION 2 MAXRESULTS 2")
    assert ([i["DocNumber"] for i in page["Invoice"]], page["maxResults"]) == (["Q-2", "Q-3"], 2)
    assert query(s.api, "select * from Invoice where DocNumber = 'nope'") == {}
    moment = "2026-06-15T12:00:00-07:00"
    assert query(s.api, f"select count(*) from Invoice where MetaData.LastUpdatedTime >= '{moment}'")["totalCount"] == 5
    posted = s.api.post("/query", content="select * from Customer where DisplayName = 'Acme'",
                        headers={"content-type": "application/text"})
    assert body(posted)["QueryResponse"]["Customer"][0]["Id"] == s.customer
    assert fault_code(s.api.get("/query", params={
        "query": "select * from Invoice where DocNumber = 'Q-1' OR DocNumber = 'Q-2'"})) == (400, "4000")
    assert fault_code(s.api.get("/query", params={"query": "select * from Invoice where PrivateNote = 'x'"})) \
        == (400, "4001")
    assert fault_code(s.api.get("/query", params={"query": "select * from Invoice STARTPOSITION 0"})) \
        == (400, "4001")
    assert fault_code(s.api.get("/query", params={"query": "select * from Bill"})) == (400, "4001")


def test_inactive_names_are_left_out_of_queries(qbo: Qbo) -> None:
    api = qbo.api()
    customer = post(api, "Customer", {"DisplayName": "Sleeping"})
    post(api, "Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert query(api, "select * from Customer where DisplayName = 'Sleeping'") == {}
    both = query(api, "select * from Customer where DisplayName = 'Sleeping' and Active IN (true, false)")
    assert both["Customer"][0]["Active"] is False


def test_duplicate_doc_number_is_6140_unless_allowed(qbo: Qbo) -> None:
    s = shop(qbo)
    first = post(s.api, "Invoice", sales_body(s.customer, "F-1", [sales_line(s.item, "10.00", s.gst_qst)]))
    again = s.api.post("/invoice", json=_numbers(sales_body(s.customer, "F-1", [sales_line(s.item, "20.00",
                                                                                            s.gst_qst)])))
    assert fault_code(again) == (400, "6140")
    assert f"TxnId={first['Id']}" in body(again)["Fault"]["Error"][0]["Detail"]
    allowed = post(s.api, "Invoice", sales_body(s.customer, "F-1", [sales_line(s.item, "20.00", s.gst_qst)]),
                   include="allowduplicatedocnum")
    assert allowed["DocNumber"] == "F-1"
    assert qbo.state()["duplicates"]["DocNumber"]["Invoice"] == ["F-1"]
    # Another entity may reuse the number; a number over 21 characters is 2050.
    assert post(s.api, "CreditMemo", sales_body(s.customer, "F-1", [sales_line(s.item, "1.00", s.gst_qst)]))
    too_long = s.api.post("/invoice", json=_numbers(sales_body(s.customer, "X" * 22,
                                                               [sales_line(s.item, "1.00", s.gst_qst)])))
    assert fault_code(too_long) == (400, "2050")
    auto = post(s.api, "Invoice", sales_body(s.customer, None, [sales_line(s.item, "1.00", s.gst_qst)]))
    assert auto["DocNumber"] == "1001"


def test_requestid_answers_the_same_without_a_second_object(qbo: Qbo) -> None:
    s = shop(qbo)
    document = _numbers(payment_body(s.customer, "50.00"))
    first = s.api.post("/payment", json=document, params={"requestid": "pay-evt-1"})
    second = s.api.post("/payment", json=document, params={"requestid": "pay-evt-1"})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content  # byte for byte, time included
    assert query(s.api, "select count(*) from Payment")["totalCount"] == 1
    other = s.api.post("/payment", json=document, params={"requestid": "pay-evt-2"})
    assert body(other)["Payment"]["Id"] != body(first)["Payment"]["Id"]
    # A refused write is answered the same way again too.
    bad = {"CustomerRef": {"value": "999999"}, "TotalAmt": 1}
    refused = [s.api.post("/payment", json=bad, params={"requestid": "pay-bad"}) for _ in range(2)]
    assert refused[0].content == refused[1].content and fault_code(refused[0]) == (400, "2500")
    state = qbo.raw().get("/sandbox/state").json()
    assert state["requests"]["requestid_replays"] == 2
    assert state["realms"][qbo.realm]["payment_ref_nums"] == {"ch_123": 2}


# -- sales tax, payments and the rest of the transactions ------------------------------------------------

def test_quebec_tax_is_computed_line_by_line(qbo: Qbo) -> None:
    s = shop(qbo)
    three = post(s.api, "Invoice", sales_body(s.customer, "QC-1", [sales_line(s.item, "9.99", s.gst_qst)] * 3))
    # accounting-rules 6.2: per line 0.50 and 1.00 each (on the total QST would be 2.99).
    assert tax_lines(three) == [D("1.50"), D("3.00")]
    assert (three["TxnTaxDetail"]["TotalTax"], three["TotalAmt"], three["Balance"]) == (D("4.5"), D("34.47"),
                                                                                        D("34.47"))
    gst, qst = three["TxnTaxDetail"]["TaxLine"]
    assert (gst["TaxLineDetail"]["TaxPercent"], qst["TaxLineDetail"]["TaxPercent"]) == (D("5.0"), D("9.975"))
    assert qst["TaxLineDetail"]["NetAmountTaxable"] == D("29.97")
    assert three["Line"][-1] == {"Amount": D("29.97"), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    # 5.2: 300.00 -> GST 15.00, QST 29.93 (29.925 rounds up), total 344.93.
    booking = post(s.api, "Invoice", sales_body(s.customer, "QC-2", [sales_line(s.item, "300.00", s.gst_qst, "2",
                                                                                "150.00")]))
    assert (tax_lines(booking), booking["TotalAmt"]) == ([D("15.00"), D("29.93")], D("344.93"))
    # 5.2 case B: the applied prepayment is a negative line; -9.975 rounds half away from zero to -9.98.
    final = post(s.api, "Invoice", sales_body(s.customer, "QC-3", [
        sales_line(s.item, "300.00", s.gst_qst), sales_line(s.item, "-100.00", s.gst_qst)]))
    assert (tax_lines(final), final["TotalAmt"]) == ([D("10.00"), D("19.95")], D("229.95"))
    exempt = post(s.api, "Invoice", sales_body(s.customer, "QC-4", [sales_line(s.item, "50.00",
                                                                               qbo.code("exempt"))]))
    assert (exempt["TxnTaxDetail"]["TotalTax"], exempt["TotalAmt"]) == (D("0.0"), D("50.0"))


def test_tax_code_rules_and_client_tax_amounts(qbo: Qbo) -> None:
    s = shop(qbo)
    missing = s.api.post("/invoice", json=_numbers(sales_body(s.customer, "T-1", [sales_line(s.item, "10.00", None)])))
    assert fault_code(missing) == (400, "6000")
    assert "GST/HST rate" in body(missing)["Fault"]["Error"][0]["Detail"]
    untaxed = post(s.api, "Invoice", sales_body(s.customer, "T-2", [sales_line(s.item, "10.00", None)],
                                                GlobalTaxCalculation="NotApplicable"))
    assert untaxed["TotalAmt"] == D("10.0")
    wrong_math = sales_line(s.item, "10.00", s.gst_qst, "3", "3.33")
    assert fault_code(s.api.post("/invoice", json=_numbers(sales_body(s.customer, "T-3", [wrong_math])))) \
        == (400, "6000")
    # The client's per-invoice rounding (2.99) is kept: within 0.01 per line of QuickBooks' 3.00.
    rates = qbo.raw().get("/sandbox/companies").json()["companies"][0]["tax_rates"]
    own: dict[str, Any] = {"TotalTax": D("4.49"), "TaxLine": [
        {"Amount": D("1.50"), "DetailType": "TaxLineDetail", "TaxLineDetail": {"TaxRateRef": {"value": rates["gst"]}}},
        {"Amount": D("2.99"), "DetailType": "TaxLineDetail", "TaxLineDetail": {"TaxRateRef": {"value": rates["qst"]}}},
    ]}
    kept = post(s.api, "Invoice", sales_body(s.customer, "T-4", [sales_line(s.item, "9.99", s.gst_qst)] * 3,
                                             TxnTaxDetail=own))
    assert (tax_lines(kept), kept["TotalAmt"]) == ([D("1.50"), D("2.99")], D("34.46"))
    own["TaxLine"][1]["Amount"] = D("2.90")
    far = s.api.post("/invoice", json=_numbers(sales_body(s.customer, "T-5", [sales_line(s.item, "9.99", s.gst_qst)]
                                                          * 3, TxnTaxDetail=own)))
    assert fault_code(far) == (400, "6000")
    inclusive = sales_body(s.customer, "T-6", [sales_line(s.item, "10.00", s.gst_qst)],
                           GlobalTaxCalculation="TaxInclusive")
    assert fault_code(s.api.post("/invoice", json=_numbers(inclusive))) == (400, "6000")


def test_payments_link_invoices_and_keep_unapplied_money(qbo: Qbo) -> None:
    s = shop(qbo)
    invoice = post(s.api, "Invoice", sales_body(s.customer, "P-1", [sales_line(s.item, "300.00", s.gst_qst)]))
    partial = post(s.api, "Payment", payment_body(s.customer, "100.00", [("Invoice", invoice["Id"], "100.00")]))
    assert partial["UnappliedAmt"] == D("0.0")
    after = body(s.api.get(f"/invoice/{invoice['Id']}"))["Invoice"]
    assert after["Balance"] == D("244.93")
    assert after["LinkedTxn"] == [{"TxnId": partial["Id"], "TxnType": "Payment"}]
    too_much = payment_body(s.customer, "300.00", [("Invoice", invoice["Id"], "250.00")])
    assert fault_code(s.api.post("/payment", json=_numbers(too_much))) == (400, "6000")
    over = post(s.api, "Payment", payment_body(s.customer, "300.00", [("Invoice", invoice["Id"], "244.93")]))
    assert over["UnappliedAmt"] == D("55.07")
    assert body(s.api.get(f"/invoice/{invoice['Id']}"))["Invoice"]["Balance"] == D("0.0")
    assert body(s.api.get(f"/customer/{s.customer}"))["Customer"]["Balance"] == D("-55.07")
    # A deposit taken before the invoice: an unapplied payment, applied later.
    deposit = post(s.api, "Payment", payment_body(s.customer, "114.98", PrivateNote="partida:evt-dep-1"))
    assert deposit["UnappliedAmt"] == D("114.98") and deposit["Line"] == []
    second = post(s.api, "Invoice", sales_body(s.customer, "P-2", [sales_line(s.item, "100.00", s.gst_qst)]))
    applied = post(s.api, "Payment", {"Id": deposit["Id"], "SyncToken": deposit["SyncToken"], "sparse": True,
                                      "Line": [{"Amount": 114.98, "LinkedTxn": [{"TxnId": second["Id"],
                                                                                  "TxnType": "Invoice"}]}]})
    assert (applied["SyncToken"], applied["UnappliedAmt"], applied["TotalAmt"]) == ("1", D("0.0"), D("114.98"))
    assert applied["PrivateNote"] == "partida:evt-dep-1"  # a sparse update keeps what it does not send
    assert body(s.api.get(f"/invoice/{second['Id']}"))["Invoice"]["Balance"] == D("0.0")
    stranger = post(s.api, "Customer", {"DisplayName": "Stranger"})["Id"]
    foreign = payment_body(stranger, "1.00", [("Invoice", second["Id"], "1.00")])
    assert fault_code(s.api.post("/payment", json=_numbers(foreign))) == (400, "6000")


def test_credit_memo_applied_with_a_zero_payment_and_refund_receipt(qbo: Qbo) -> None:
    s = shop(qbo)
    invoice = post(s.api, "Invoice", sales_body(s.customer, "C-1", [sales_line(s.item, "100.00", s.gst_qst)]))
    credit = post(s.api, "CreditMemo", sales_body(s.customer, "AV-1", [sales_line(s.item, "40.00", s.gst_qst)]))
    assert (credit["TotalAmt"], credit["RemainingCredit"]) == (D("45.99"), D("45.99"))
    zero = post(s.api, "Payment", payment_body(s.customer, "0", [("Invoice", invoice["Id"], "45.99"),
                                                                 ("CreditMemo", credit["Id"], "45.99")]))
    assert zero["UnappliedAmt"] == D("0.0")
    assert body(s.api.get(f"/creditmemo/{credit['Id']}"))["CreditMemo"]["RemainingCredit"] == D("0.0")
    assert body(s.api.get(f"/invoice/{invoice['Id']}"))["Invoice"]["Balance"] == D("68.99")
    refused = s.api.post("/creditmemo", params={"operation": "delete"}, json={"Id": credit["Id"], "SyncToken": "0"})
    assert fault_code(refused) == (400, "6000")  # applied: unapply it first
    refund = sales_body(s.customer, "RF-1", [sales_line(s.item, "20.00", s.gst_qst)])
    assert fault_code(s.api.post("/refundreceipt", json=_numbers(refund))) == (400, "2020")
    receipt = post(s.api, "RefundReceipt", {**refund, "DepositToAccountRef": {"value": qbo.account("bank")}})
    assert (receipt["TotalAmt"], receipt["Balance"]) == (D("23.0"), D("0.0"))


def test_journal_entries_balance_and_name_their_customer(qbo: Qbo) -> None:
    s = shop(qbo)
    entry = post(s.api, "JournalEntry", {"DocNumber": "OD-1", "TxnDate": "2026-06-02", "PrivateNote": "payout",
                                         "Line": [journal_line("Debit", qbo.account("bank"), "970.70"),
                                                  journal_line("Debit", qbo.account("bank_charges"), "29.30"),
                                                  journal_line("Credit", qbo.account("uf"), "1000.00")]})
    assert entry["TotalAmt"] == D("1000.0")
    unbalanced = {"Line": [journal_line("Debit", qbo.account("bank"), "10.00"),
                           journal_line("Credit", qbo.account("uf"), "9.99")]}
    assert fault_code(s.api.post("/journalentry", json=_numbers(unbalanced))) == (400, "6000")
    nameless = {"Line": [journal_line("Debit", qbo.account("ar"), "10.00"),
                         journal_line("Credit", qbo.account("other_income"), "10.00")]}
    answer = s.api.post("/journalentry", json=_numbers(nameless))
    assert fault_code(answer) == (400, "6000") and "customer" in body(answer)["Fault"]["Error"][0]["Detail"]
    named = {"Line": [journal_line("Debit", qbo.account("ar"), "10.00", s.customer),
                      journal_line("Credit", qbo.account("other_income"), "10.00")]}
    post(s.api, "JournalEntry", named)
    assert body(s.api.get(f"/customer/{s.customer}"))["Customer"]["Balance"] == D("10.0")
    negative = {"Line": [journal_line("Debit", qbo.account("bank"), "-1.00"),
                         journal_line("Credit", qbo.account("uf"), "-1.00")]}
    assert fault_code(s.api.post("/journalentry", json=_numbers(negative))) == (400, "6000")


def test_deposits_move_payments_out_of_undeposited_funds(qbo: Qbo) -> None:
    s = shop(qbo)
    payment = post(s.api, "Payment", payment_body(s.customer, "80.00"))
    assert payment["DepositToAccountRef"]["value"] == qbo.account("uf")
    deposit = post(s.api, "Deposit", {
        "DepositToAccountRef": {"value": qbo.account("bank")}, "TxnDate": "2026-06-06",
        "Line": [{"Amount": 80, "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment", "TxnLineId": "0"}]},
                 {"Amount": 5, "DetailType": "DepositLineDetail",
                  "DepositLineDetail": {"AccountRef": {"value": qbo.account("other_income")}}}],
        "CashBack": {"AccountRef": {"value": qbo.account("bank_charges")}, "Amount": 1.5}})
    assert deposit["TotalAmt"] == D("83.5")
    twice = {"DepositToAccountRef": {"value": qbo.account("bank")},
             "Line": [{"Amount": 80, "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment"}]}]}
    assert fault_code(s.api.post("/deposit", json=twice)) == (400, "6000")
    deleted = s.api.post("/payment", params={"operation": "delete"},
                         json={"Id": payment["Id"], "SyncToken": payment["SyncToken"]})
    assert fault_code(deleted) == (400, "6540")
    balances = {a["Name"]: a["CurrentBalance"] for a in query(s.api, "select * from Account")["Account"]}
    assert (balances["Chequing"], balances["Undeposited Funds"], balances["Bank charges"]) == \
        (D("83.5"), D("0.0"), D("1.5"))


def test_sync_token_conflicts_and_update_modes(qbo: Qbo) -> None:
    s = shop(qbo)
    invoice = post(s.api, "Invoice", sales_body(s.customer, "S-1", [sales_line(s.item, "10.00", s.gst_qst)],
                                                PrivateNote="first"))
    sparse = post(s.api, "Invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "second"})
    assert (sparse["SyncToken"], sparse["PrivateNote"], sparse["TotalAmt"]) == ("1", "second", D("11.5"))
    stale = s.api.post("/invoice", json={"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "x"})
    assert fault_code(stale) == (400, "5010")
    assert fault_code(s.api.post("/invoice", json={"Id": invoice["Id"], "sparse": True})) == (400, "2020")
    assert fault_code(s.api.post("/invoice", json={"Id": "999999", "SyncToken": "0"})) == (400, "610")
    full = sales_body(s.customer, "S-1", [sales_line(s.item, "20.00", s.gst_qst)])
    replaced = post(s.api, "Invoice", {**full, "Id": invoice["Id"], "SyncToken": "1"})
    assert replaced["TotalAmt"] == D("23.0") and "PrivateNote" not in replaced  # a full update clears
    # A whole object read back from the API can be sent again as a full update.
    echoed = post(s.api, "Invoice", _numbers(replaced))
    assert (echoed["SyncToken"], echoed["TotalAmt"], len(echoed["Line"])) == ("3", D("23.0"), 2)
    voided = post(s.api, "Invoice", {"Id": invoice["Id"], "SyncToken": "3"}, operation="void")
    assert (voided["TotalAmt"], voided["Balance"], voided["PrivateNote"]) == (D("0.0"), D("0.0"), "Voided")
    gone = s.api.post("/invoice", params={"operation": "delete"}, json={"Id": invoice["Id"], "SyncToken": "4"})
    assert body(gone)["Invoice"] == {"domain": "QBO", "status": "Deleted", "Id": invoice["Id"]}
    assert fault_code(s.api.get(f"/invoice/{invoice['Id']}")) == (400, "610")


# -- batch ---------------------------------------------------------------------------------------

def test_batch_items_are_independent(qbo: Qbo) -> None:
    s = shop(qbo)
    items = [
        {"bId": "b1", "operation": "create", "Invoice": _numbers(sales_body(s.customer, "B-1", [
            sales_line(s.item, "10.00", s.gst_qst)]))},
        {"bId": "b2", "operation": "create", "Invoice": {"Line": []}},
        {"bId": "b3", "Query": "select * from Customer where DisplayName = 'Acme'"},
        {"bId": "b4", "operation": "create", "Customer": {"DisplayName": "Batch Co"}},
        {"bId": "b5", "operation": "update", "Customer": {"Id": s.customer, "SyncToken": "7", "sparse": True}},
        {"bId": "b6", "operation": "create", "Invoice": _numbers(sales_body(s.customer, "B-1", [
            sales_line(s.item, "10.00", s.gst_qst)]))},
    ]
    answer = s.api.post("/batch", json={"BatchItemRequest": items})
    assert answer.status_code == 200
    results = {item["bId"]: item for item in body(answer)["BatchItemResponse"]}
    assert list(results) == ["b1", "b2", "b3", "b4", "b5", "b6"]
    assert results["b1"]["Invoice"]["TotalAmt"] == D("11.5")
    assert results["b2"]["Fault"]["Error"][0]["code"] == "2020"
    assert results["b3"]["QueryResponse"]["Customer"][0]["Id"] == s.customer
    assert results["b4"]["Customer"]["DisplayName"] == "Batch Co"
    assert results["b5"]["Fault"]["Error"][0]["code"] == "5010"
    assert results["b6"]["Fault"]["Error"][0]["code"] == "6140"
    thirty_one = [{"bId": f"q{n}", "Query": "select count(*) from Item"} for n in range(31)]
    assert fault_code(s.api.post("/batch", json={"BatchItemRequest": thirty_one})) == (400, "6000")
    thirty = s.api.post("/batch", json={"BatchItemRequest": thirty_one[:30]})
    assert len(body(thirty)["BatchItemResponse"]) == 30
    again = s.api.post("/batch", json={"BatchItemRequest": [{"bId": "x", "Query": "select * from Item"}] * 2})
    assert body(again)["BatchItemResponse"][1]["Fault"]["Error"][0]["code"] == "6000"  # bId used twice
    replayed = [s.api.post("/batch", json={"BatchItemRequest": items[3:4]}, params={"requestid": "batch-1"})
                for _ in range(2)]
    assert replayed[0].content == replayed[1].content
    assert body(replayed[0])["BatchItemResponse"][0]["Fault"]["Error"][0]["code"] == "6240"


# -- reports ----------------------------------------------------------------------------------------

def trial_rows(api: httpx.Client, **params: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    report = body(api.get("/reports/TrialBalance", params=params))
    rows = report["Rows"]["Row"]
    accounts = {row["ColData"][0]["value"]: (row["ColData"][1]["value"], row["ColData"][2]["value"])
                for row in rows if row.get("type") == "Data"}
    total = [cell["value"] for cell in rows[-1]["Summary"]["ColData"]]
    return accounts, total


def test_trial_balance_sums_per_account_over_a_period(qbo: Qbo) -> None:
    s = shop(qbo)
    invoice = post(s.api, "Invoice", sales_body(s.customer, "TB-1", [sales_line(s.item, "300.00", s.gst_qst)],
                                                date="2026-03-01"))
    payment = post(s.api, "Payment", {**payment_body(s.customer, "344.93", [("Invoice", invoice["Id"], "344.93")]),
                                      "TxnDate": "2026-03-05"})
    post(s.api, "Deposit", {"DepositToAccountRef": {"value": qbo.account("bank")}, "TxnDate": "2026-03-06",
                            "Line": [{"Amount": D("344.93"), "LinkedTxn": [{"TxnId": payment["Id"],
                                                                            "TxnType": "Payment"}]}]})
    post(s.api, "JournalEntry", {"TxnDate": "2026-04-01", "Line": [
        journal_line("Debit", qbo.account("bank_charges"), "2.50"),
        journal_line("Credit", qbo.account("bank"), "2.50")]})
    post(s.api, "Invoice", sales_body(s.customer, "TB-0", [sales_line(s.item, "100.00", qbo.code("exempt"))],
                                      date="2025-12-15"))
    rows, total = trial_rows(s.api)  # year to date (today is 2026-06-15)
    assert rows == {
        "Accounts Receivable (A/R)": ("100.00", ""), "Chequing": ("342.43", ""), "GST/HST Payable": ("", "15.00"),
        "QST Payable": ("", "29.93"), "Retained Earnings": ("", "100.00"), "Services": ("", "300.00"),
        "Bank charges": ("2.50", ""),
    }
    assert total == ["TOTAL", "444.93", "444.93"]
    march, total = trial_rows(s.api, start_date="2026-01-01", end_date="2026-03-31")
    assert march["Chequing"] == ("344.93", "") and "Bank charges" not in march and total[1] == total[2]
    spring, total = trial_rows(s.api, start_date="2026-04-01", end_date="2026-06-30")
    assert spring["Retained Earnings"] == ("", "400.00") and "Services" not in spring and total[1] == total[2]
    empty = body(s.api.get("/reports/TrialBalance", params={"end_date": "2025-01-01"}))
    assert empty["Header"]["Option"] == [{"Name": "NoReportData", "Value": "true"}] and empty["Rows"]["Row"] == []
    assert fault_code(s.api.get("/reports/ProfitAndLoss")) == (400, "500")
    assert fault_code(s.api.get("/reports/TrialBalance", params={"start_date": "2026-13-01"})) == (400, "2010")


# -- limits and faults --------------------------------------------------------------------------------

def test_rate_limit_per_company_answers_429(make_qbo: Callable[..., Qbo]) -> None:
    clock = FakeClock(1_000.0)
    qbo = make_qbo(rate_limit=(5, 60.0), batch_rate_limit=(2, 60.0), clock=clock)
    api = qbo.api()
    assert [api.get("/preferences").status_code for _ in range(5)] == [200] * 5
    refused = api.get("/preferences")
    assert fault_code(refused) == (429, "3001")
    assert body(refused)["Fault"]["type"] == "SERVICE"
    other, _ = qbo.company("FR")
    assert qbo.api(realm=other).get("/preferences").status_code == 200  # per company
    clock.advance(60.5)
    batch = {"BatchItemRequest": [{"bId": "1", "Query": "select count(*) from Item"}]}
    assert [api.post("/batch", json=batch).status_code for _ in range(3)] == [200, 200, 429]
    assert qbo.raw().get("/sandbox/state").json()["requests"]["rate_limited"] == 2


def _hold(base: str, realm: str, token: str) -> socket.socket:
    """A request whose body never comes: it holds an in-flight slot."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall((f"POST /v3/company/{realm}/customer HTTP/1.1\r\nHost: {host}\r\n"
                  f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                  "Content-Length: 100\r\n\r\n{").encode())
    return sock


def _wait_inflight(qbo: Qbo, count: int) -> None:
    deadline = time.monotonic() + 5
    while qbo.state()["inflight"] != count:
        assert time.monotonic() < deadline, f"never {count} requests in flight"
        time.sleep(0.01)


def test_more_than_the_concurrent_limit_is_429(make_qbo: Callable[..., Qbo]) -> None:
    qbo = make_qbo(concurrency=3)
    token = qbo.tokens()["access_token"]
    held = [_hold(qbo.base, qbo.realm, token) for _ in range(3)]
    try:
        _wait_inflight(qbo, 3)
        assert fault_code(qbo.api(token).get("/preferences")) == (429, "3001")
    finally:
        for sock in held:
            sock.close()
    _wait_inflight(qbo, 0)
    assert qbo.api(token).get("/preferences").status_code == 200
    assert qbo.raw().get("/sandbox/state").json()["requests"]["concurrency_limited"] == 1


def _outcomes(qbo: Qbo, count: int) -> list[object]:
    api = qbo.api()
    outcomes: list[object] = []
    for n in range(count):
        try:
            outcomes.append(api.post("/customer", json={"DisplayName": f"Faulty {n}"}).status_code)
        except httpx.TransportError:
            outcomes.append("drop")
    return outcomes


def test_fault_plan_is_deterministic(make_qbo: Callable[..., Qbo]) -> None:
    plan = dataclasses.replace(parse_fault_plan("42:40%"), slow_s=0.0)
    first = _outcomes(make_qbo(faults=plan), 40)
    second = _outcomes(make_qbo(faults=plan), 40)
    expected = [200 if f is None or f.kind == "slow" else ("drop" if f.kind == "drop" else f.status)
                for f in preview(plan, 40)]
    assert first == second == expected
    assert {"drop", 429} <= set(first) and set(first) & {500, 502, 503}


def test_injected_faults_speak_quickbooks(make_qbo: Callable[..., Qbo]) -> None:
    qbo = make_qbo(faults="3:5xx=100%")
    client = register_client(qbo)
    tokens = code_flow(qbo, client)  # OAuth and /sandbox/ are never faulted
    assert refresh(qbo, client, tokens["refresh_token"]).status_code == 200
    answers = [qbo.api(tokens["access_token"]).get("/preferences") for _ in range(6)]
    assert {a.status_code for a in answers} <= {500, 502, 503}
    server_error = next((a for a in answers if a.status_code == 500), None)
    if server_error is not None:
        assert fault_code(server_error) == (500, "10000")
    qbo.raw().put("/sandbox/faults", json={"plan": "4:429=100%"})
    assert fault_code(qbo.api(tokens["access_token"]).get("/preferences")) == (429, "3001")


def test_dropped_write_is_committed_and_its_requestid_answers_the_retry(make_qbo: Callable[..., Qbo]) -> None:
    qbo = make_qbo()
    s = shop(qbo)
    qbo.raw().put("/sandbox/faults", json={"plan": "1:drop=100%"})
    document = _numbers(sales_body(s.customer, "DROP-1", [sales_line(s.item, "10.00", s.gst_qst)]))
    with pytest.raises(httpx.TransportError):
        s.api.post("/invoice", json=document, params={"requestid": "inv-drop-1"})
    assert qbo.raw().put("/sandbox/faults", json={"plan": None}).json()["faults"] is None
    retry = s.api.post("/invoice", json=document, params={"requestid": "inv-drop-1"})
    assert retry.status_code == 200 and body(retry)["Invoice"]["DocNumber"] == "DROP-1"
    assert len(query(s.api, "select * from Invoice where DocNumber = 'DROP-1'")["Invoice"]) == 1
    state = qbo.raw().get("/sandbox/state").json()
    assert state["realms"][qbo.realm]["doc_numbers"]["Invoice"] == {"DROP-1": 1}
    assert state["requests"]["faults"] == {"drop": 1} and state["requests"]["requestid_replays"] == 1


def _batch_outcomes(qbo: Qbo) -> list[object]:
    api = qbo.api()
    outcomes: list[object] = []
    for batch in range(4):
        items = [{"bId": f"c{n}", "operation": "create", "Customer": {"DisplayName": f"B{batch}-{n}"}}
                 for n in range(10)]
        answer = api.post("/batch", json={"BatchItemRequest": items})
        if answer.status_code != 200:
            outcomes.append(answer.status_code)
            continue
        outcomes.append(tuple(item["Fault"]["Error"][0]["code"] if "Fault" in item else "ok"
                              for item in body(answer)["BatchItemResponse"]))
    return outcomes


def test_batch_items_fault_one_by_one_deterministically(make_qbo: Callable[..., Qbo]) -> None:
    first = make_qbo(faults="11:5xx=30%")
    outcomes = _batch_outcomes(first)
    assert outcomes == _batch_outcomes(make_qbo(faults="11:5xx=30%"))
    answered = [o for o in outcomes if isinstance(o, tuple)]
    codes = {code for items in answered for code in items}
    assert {"ok", "10000"} <= codes, outcomes
    created = sum(items.count("ok") for items in answered)
    assert first.state()["counts"]["Customer"] == created  # a faulted item was not executed


# -- persistence -----------------------------------------------------------------------------------

def test_state_survives_a_restart(make_qbo: Callable[..., Qbo], tmp_path: Path) -> None:
    path = tmp_path / "quickbooks.json"
    first = make_qbo(state_path=path)
    client = register_client(first)
    tokens = code_flow(first, client)
    api = first.api(tokens["access_token"])
    customer = post(api, "Customer", {"DisplayName": "Keeper"})
    kept = api.post("/customer", json={"DisplayName": "Once"}, params={"requestid": "c-once"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert tokens["refresh_token"] not in text and tokens["access_token"] not in text

    second = make_qbo(state_path=path)
    assert second.realm == first.realm
    renewed = refresh(second, client, tokens["refresh_token"])
    assert renewed.status_code == 200
    api = second.api(renewed.json()["access_token"])
    assert body(api.get(f"/customer/{customer['Id']}"))["Customer"]["DisplayName"] == "Keeper"
    again = api.post("/customer", json={"DisplayName": "Once"}, params={"requestid": "c-once"})
    assert again.content == kept.content
    later = post(api, "Customer", {"DisplayName": "Next"})
    assert int(later["Id"]) > int(body(kept)["Customer"]["Id"])  # ids are not reused


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "expected"), [
    (b"{", (400, "2010")),
    (b"", (400, "2010")),
    (b"[1, 2]", (400, "2010")),
    (b'{"DisplayName": NaN}', (400, "2010")),
    (b'{"DisplayName": "x", "Nickname": "y"}', (400, "2010")),
    (b'{"DisplayName": 5}', (400, "2010")),
    (b'{"DisplayName": "x", "PrimaryEmailAddr": "a@b.c"}', (400, "2010")),
    (b'{"DisplayName": "x", "Active": "maybe"}', (400, "2010")),
    (b'{"DisplayName": "x", "DefaultTaxCodeRef": {"name": "no value"}}', (400, "2020")),
    (b"\xff\xfe", (400, "2010")),
    (b'{"DisplayName": "x", "Notes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", (400, "2010")),
])
def test_bad_bodies_get_the_documented_fault(qbo: Qbo, content: bytes, expected: tuple[int, str]) -> None:
    api = qbo.api()
    answer = api.post("/customer", content=content, headers={"content-type": "application/json"})
    assert fault_code(answer) == expected
    assert body(answer)["Fault"]["type"] == "ValidationFault" and body(answer)["time"]
    assert api.get("/preferences").status_code == 200  # still serving


def test_other_bad_requests(qbo: Qbo) -> None:
    s = shop(qbo)
    assert fault_code(s.api.post("/account", json={"Name": "X", "AccountType": "Bogus"})) == (400, "2170")
    assert fault_code(s.api.post("/invoice", json={"Line": []})) == (400, "2020")
    assert fault_code(s.api.post("/bill", json={})) == (400, "500")
    amount = sales_body(s.customer, "BAD-1", [{**sales_line(s.item, "10.00", s.gst_qst), "Amount": "ten"}])
    assert fault_code(s.api.post("/invoice", json=_numbers(amount))) == (400, "2010")
    cents = sales_body(s.customer, "BAD-2", [sales_line(s.item, "10.001", s.gst_qst, price="10.001")])
    assert fault_code(s.api.post("/invoice", json=_numbers(cents))) == (400, "6000")
    huge = sales_body(s.customer, "BAD-3", [{**sales_line(s.item, "1", s.gst_qst), "Amount": 1}])
    raw_huge = json.dumps(_numbers(huge)).replace('"Amount": 1,', '"Amount": 1e400,').encode()
    answer = s.api.post("/invoice", content=raw_huge, headers={"content-type": "application/json"})
    assert fault_code(answer) == (400, "6000") and "too large" in answer.text
    as_text = sales_body(s.customer, "OK-1", [{**sales_line(s.item, "10.00", s.gst_qst), "Amount": "10.00"}])
    assert post(s.api, "Invoice", as_text)["TotalAmt"] == D("11.5")  # numeric strings are coerced
    assert s.api.get("/invoice").status_code == 405
    assert fault_code(s.api.post("/payment", json={"CustomerRef": {"value": s.customer}})) == (400, "2020")
    other = sales_body(s.customer, "CUR-1", [sales_line(s.item, "1.00", s.gst_qst)], CurrencyRef={"value": "USD"})
    assert fault_code(s.api.post("/invoice", json=_numbers(other))) == (400, "6000")


# -- tampering behind the client's back ----------------------------------------------------------------

def test_sandbox_tampering(qbo: Qbo) -> None:
    s = shop(qbo)
    raw, realm = qbo.raw(), qbo.realm
    invoice = post(s.api, "Invoice", sales_body(s.customer, "TT-1", [sales_line(s.item, "100.00", s.gst_qst)]))
    changed = raw.patch(f"/sandbox/companies/{realm}/invoice/{invoice['Id']}", json={"Amount": "90.00"})
    assert changed.status_code == 200
    read = body(s.api.get(f"/invoice/{invoice['Id']}"))["Invoice"]
    assert (read["TotalAmt"], read["SyncToken"]) == (D("103.48"), "1")  # tax recomputed
    paid = raw.post(f"/sandbox/companies/{realm}/invoice/{invoice['Id']}/mark_paid")
    assert paid.status_code == 201 and paid.json()["PrivateNote"] == "Marked paid in QuickBooks"
    assert body(s.api.get(f"/invoice/{invoice['Id']}"))["Invoice"]["Balance"] == D("0.0")
    hidden = raw.post(f"/sandbox/companies/{realm}/invoice",
                      json=_numbers(sales_body(s.customer, "UNKNOWN-1", [sales_line(s.item, "5.00", s.gst_qst)])))
    assert hidden.status_code == 201
    found = query(s.api, "select * from Invoice where DocNumber = 'UNKNOWN-1'")["Invoice"]
    assert found[0]["Id"] == hidden.json()["Id"]
    entry = post(s.api, "JournalEntry", {"Line": [journal_line("Debit", qbo.account("bank"), "1.00"),
                                                  journal_line("Credit", qbo.account("other_income"), "1.00")]})
    assert raw.delete(f"/sandbox/companies/{realm}/journalentry/{entry['Id']}").status_code == 204
    assert fault_code(s.api.get(f"/journalentry/{entry['Id']}")) == (400, "610")
    assert raw.delete(f"/sandbox/companies/{realm}/invoice/{invoice['Id']}").status_code == 204
    payment = body(s.api.get(f"/payment/{paid.json()['Id']}"))["Payment"]
    assert (payment["Line"], payment["UnappliedAmt"]) == ([], D("103.48"))  # the payment became a credit
    assert raw.delete(f"/sandbox/companies/{realm}/invoice/{invoice['Id']}").status_code == 400
    counts = qbo.state()["counts"]
    assert (counts["Invoice"], counts["JournalEntry"], counts["Payment"]) == (1, 0, 1)
    assert raw.post("/sandbox/reset").status_code == 200
    assert qbo.state()["counts"]["Invoice"] == 0
    assert s.api.get("/preferences").status_code == 200  # credentials survive a reset


# -- other editions ------------------------------------------------------------------------------------

def test_us_and_french_companies(qbo: Qbo) -> None:
    us, keys = qbo.company("US")
    api = qbo.api(realm=us)
    customer = post(api, "Customer", {"DisplayName": "Yankee"})["Id"]
    item = post(api, "Item", item_body("Tour", keys["accounts"]["services"]))["Id"]
    lines = [sales_line(item, "100.00", "TAX"), sales_line(item, "50.00", "NON"), sales_line(item, "10.00", None)]
    combined = {"TxnTaxCodeRef": {"value": keys["tax_codes"]["combined"]}}
    document = {**sales_body(customer, "US-1", lines), "TxnTaxDetail": combined}
    document.pop("GlobalTaxCalculation")
    invoice = post(api, "Invoice", document)
    assert (tax_lines(invoice), invoice["TotalAmt"]) == ([D("6.25"), D("2.00")], D("168.25"))
    assert "GlobalTaxCalculation" not in invoice
    fr, keys = qbo.company("FR")
    api = qbo.api(realm=fr)
    customer = post(api, "Customer", {"DisplayName": "Client SARL"})["Id"]
    item = post(api, "Item", item_body("Location", keys["accounts"]["services"]))["Id"]
    missing = api.post("/invoice", json=_numbers(sales_body(customer, "F1", [sales_line(item, "10.00", None)])))
    assert "VAT rate" in body(missing)["Fault"]["Error"][0]["Detail"]
    three = post(api, "Invoice", sales_body(customer, "F2", [sales_line(item, "9.08", keys["tax_codes"]["vat10"])] * 3))
    assert (tax_lines(three), three["TotalAmt"], three["CurrencyRef"]["value"]) == ([D("2.73")], D("29.97"), "EUR")


# -- Intuit's XSD -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema() -> Any:
    try:
        return xsd.load_schema(str(XSD_DIR))
    except FileNotFoundError:
        pytest.skip(f"Intuit's XSD is not at {XSD_DIR.resolve()}")


def test_payloads_and_answers_follow_intuits_xsd(qbo: Qbo, schema: Any) -> None:
    s = shop(qbo)
    sent: list[tuple[str, dict[str, Any]]] = []

    def send(entity: str, document: dict[str, Any]) -> dict[str, Any]:
        sent.append((entity, document))
        answer = post(s.api, entity, document)
        sent.append((entity, answer))  # what the sandbox answers must fit too
        return answer

    customer = send("Customer", customer_body("Xsd Co"))
    item = send("Item", item_body("Xsd Kayak", qbo.account("services"), s.gst_qst))
    account = send("Account", {"Name": "Xsd deposits", "AccountType": "Other Current Liability", "AcctNum": "2401"})
    line = sales_line(item["Id"], "300.00", s.gst_qst, "2", "150.00")
    invoice = send("Invoice", sales_body(customer["Id"], "XSD-1", [line], DueDate="2026-07-01",
                                         PrivateNote="partida:evt-1", BillEmail={"Address": "a@example.org"}))
    send("Payment", payment_body(customer["Id"], "400.00", [("Invoice", invoice["Id"], "344.93")],
                                 DepositToAccountRef={"value": qbo.account("bank")}, PrivateNote="partida:evt-2"))
    send("CreditMemo", sales_body(customer["Id"], "AV-XSD", [line]))
    send("RefundReceipt", sales_body(customer["Id"], "RF-XSD", [line],
                                     DepositToAccountRef={"value": qbo.account("bank")}, PaymentRefNum="r-1"))
    send("JournalEntry", {"DocNumber": "OD-XSD", "TxnDate": "2026-06-02", "PrivateNote": "partida:evt-3",
                          "Line": [journal_line("Debit", qbo.account("ar"), "10.00", customer["Id"]),
                                   journal_line("Credit", account["Id"], "10.00")]})
    payment = post(s.api, "Payment", payment_body(customer["Id"], "10.00"))
    send("Deposit", {"DepositToAccountRef": {"value": qbo.account("bank")}, "TxnDate": "2026-06-06",
                     "Line": [{"Amount": D("10.00"), "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment"}]}]})
    for entity in ("TaxCode", "TaxRate"):
        for record in query(s.api, f"select * from {entity}")[entity]:
            sent.append((entity, record))
    problems = [f"{entity}: {problem}" for entity, document in sent
                for problem in xsd.validate(entity, _numbers(document), schema)]
    assert problems == []
    # The checker does catch mistakes.
    wrong = xsd.validate("Invoice", {"Line": [{"DetailType": "Bogus", "Amount": "x"}], "Nickname": 1}, schema)
    assert len(wrong) == 3 and wrong[0] == "Invoice.Nickname: not a field of Invoice"


def _schema_problems(node: Any, xsd_type: Any, path: str) -> list[str]:
    if isinstance(node, Arr):
        return _schema_problems(node.items, xsd_type, path)
    if not isinstance(node, Obj):
        return []
    if xsd_type.has_simple_content():
        extra = set(node.props) - {"value"} - {n for n in xsd_type.attributes if n}
        return [f"{path}.{key}" for key in sorted(extra)]
    children = {e.local_name: e for e in xsd_type.content.iter_elements()}
    attributes = {n for n in xsd_type.attributes if n}
    problems = []
    for key, child in node.props.items():
        if key in attributes:
            continue
        if key not in children:
            problems.append(f"{path}.{key}")
            continue
        problems += _schema_problems(child, children[key].type, f"{path}.{key}")
    return problems


def test_the_sandbox_accepts_only_xsd_field_names(schema: Any) -> None:
    problems = [problem for entity, node in ENTITY_SCHEMAS.items()
                for problem in _schema_problems(node, schema.elements[entity].type, entity)]
    assert problems == []


# -- the CLI entry point -----------------------------------------------------------------------------

def test_main_prints_its_base_url_and_serves(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with sandbox_main("connectors.quickbooks.sandbox", state, "5:0%") as (proc, described):
        assert (described["persistent"], described["faults"]) == (True, "5:0%")
        assert (described["rate_limit"], described["concurrency"]) == ({"limit": 500, "window_s": 60.0}, 10)
    assert proc.returncode == 0 and state.exists()


def test_main_refuses_a_bad_fault_plan() -> None:
    from connectors.quickbooks.sandbox import main

    with pytest.raises(ValueError, match="SEED:PLAN"):
        main(0, None, "often")
