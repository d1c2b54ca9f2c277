"""The Pennylane sandbox, exercised over real HTTP on 127.0.0.1 with httpx.

Every exchange with ``/api/external/v2`` made through the ``sandbox`` fixture is
checked after the test against Pennylane's own OpenAPI description (requests
too, except the ones the sandbox rightly refuses with a 400), when the spec
file is present next to the repository.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import stat
import warnings
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import httpx
from sandbox_process import sandbox_main
import pytest

from connectors.pennylane.sandbox import create_app
from connectors.sandbox.faults import parse_fault_plan
from connectors.sandbox.faults import preview
from connectors.sandbox.server import running

ROOT = Path(__file__).resolve().parents[3]
SPEC_PATH = ROOT.parent / "shared" / "specs" / "pennylane" / "company_v2_accounting.2026-05.json"
API = "/api/external/v2"
REDIRECT = "http://127.0.0.1:9/callback"
VERIFIER = "partida-test-verifier-" + "x" * 30
JUNE_15 = datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC).timestamp()
ADDRESS = {"address": "1 place du Port", "postal_code": "13002", "city": "Marseille", "country_alpha2": "FR"}
Exchange = tuple[httpx.Request, httpx.Response]


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- OpenAPI conformance of every exchange ---------------------------------------------

@pytest.fixture(scope="session")
def openapi() -> Any:
    """Pennylane's OpenAPI description, or None when the file is absent."""
    if not SPEC_PATH.exists():
        return None
    from openapi_core import OpenAPI

    return OpenAPI.from_dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


@pytest.fixture
def exchanges(openapi: Any) -> Iterator[list[Exchange]]:
    """Records the test's API exchanges and checks them against the spec afterwards."""
    recorded: list[Exchange] = []
    yield recorded
    if openapi is not None:
        problems = [problem for exchange in recorded if (problem := check_exchange(openapi, *exchange))]
        assert not problems, "\n".join(problems)


def check_exchange(openapi: Any, request: httpx.Request, response: httpx.Response) -> str | None:
    """Why one exchange breaks the spec, or None."""
    from openapi_core.templating.paths.exceptions import OperationNotFound
    from openapi_core.templating.paths.exceptions import PathNotFound
    from openapi_core.testing import MockRequest
    from openapi_core.testing import MockResponse

    if not request.url.path.startswith(API) or response.status_code in (429, 500, 502, 503):
        return None  # undocumented on these operations: rate limits and injected faults
    mock_request = MockRequest(
        "https://app.pennylane.com", request.method, request.url.path, args=dict(request.url.params),
        headers=dict(request.headers), data=request.content or None,
        content_type=request.headers.get("content-type", "application/json").split(";")[0],
    )
    mock_response = MockResponse(
        response.content, status_code=response.status_code, headers=dict(response.headers),
        content_type=response.headers.get("content-type", "").split(";")[0],
    )
    where = f"{request.method} {request.url.path}?{request.url.query.decode()} -> {response.status_code}"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unsupported scheme type")  # oauth2 security: not checked by openapi-core
        try:
            # A request refused as malformed (400) or with a non-numeric id (404)
            # is expected to break the spec; every other one must fit it.
            if response.status_code not in (400, 404):
                openapi.validate_request(mock_request)
            openapi.validate_response(mock_request, mock_response)
        except (PathNotFound, OperationNotFound):
            return None if response.status_code in (404, 405) else f"{where}: not in the spec"
        except Exception as exc:  # report every kind of validation error with its exchange
            detail = "; ".join(str(e) for e in getattr(exc, "schema_errors", ()) or [exc])
            return f"{where}: {type(exc).__name__}: {detail[:800]}"
    return None


# -- fixtures -----------------------------------------------------------------------------

@dataclasses.dataclass
class Sandbox:
    """A running sandbox and clients for it."""

    base: str
    app: Any
    wall: FakeClock
    recorded: list[Exchange]
    stack: contextlib.ExitStack

    def client(self, token: str | None = None, **options: Any) -> httpx.Client:
        """A client for the API (``/api/external/v2``), recording its exchanges."""
        headers = {"authorization": f"Bearer {token}"} if token else {}

        def record(response: httpx.Response) -> None:
            response.read()
            self.recorded.append((response.request, response))

        client = httpx.Client(base_url=self.base + API, headers=headers, event_hooks={"response": [record]},
                              timeout=10, **options)
        return self.stack.enter_context(client)

    def raw(self) -> httpx.Client:
        """A client for the sandbox-only and OAuth endpoints."""
        return self.stack.enter_context(httpx.Client(base_url=self.base, timeout=10))

    def token(self, scopes: list[str] | None = None) -> str:
        body = {} if scopes is None else {"scopes": scopes}
        answer = self.raw().post("/sandbox/company_tokens", json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])

    def api(self, scopes: list[str] | None = None) -> httpx.Client:
        """A client holding a fresh company token."""
        return self.client(self.token(scopes))

    def state(self) -> dict[str, Any]:
        return dict(self.raw().get("/sandbox/state").json())


@pytest.fixture
def make_sandbox(exchanges: list[Exchange]) -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes (stopped at the end of the test); options go to ``create_app``."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> Sandbox:
            wall = options.pop("wall_clock", None) or FakeClock(JUNE_15)
            options.setdefault("rate_limit", (10_000, 5.0))
            app = create_app(wall_clock=wall, **options)
            base = stack.enter_context(running(app))
            return Sandbox(base, app, wall, exchanges, stack)

        yield start


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


# -- helpers ------------------------------------------------------------------------------

def make_customer(api: httpx.Client, ref: str, *, company: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"billing_address": ADDRESS, "external_reference": ref, "emails": [f"{ref}@example.org"]}
    if company:
        answer = api.post("/company_customers", json={**body, "name": f"Société {ref}", "reg_no": "123456789"})
    else:
        answer = api.post("/individual_customers", json={**body, "first_name": "Jeanne", "last_name": ref})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def line(label: str, quantity: Any, price: str, vat: str = "FR_200", **extra: Any) -> dict[str, Any]:
    return {"label": label, "quantity": quantity, "raw_currency_unit_price": price, "unit": "piece",
            "vat_rate": vat, **extra}


def make_invoice(api: httpx.Client, customer_id: int, ref: str, lines: list[dict[str, Any]],
                 date: str = "2026-06-01", **extra: Any) -> dict[str, Any]:
    answer = api.post("/customer_invoices", json={
        "date": date, "deadline": "2026-06-30", "customer_id": customer_id, "external_reference": ref,
        "invoice_lines": lines, **extra})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def account_id(api: httpx.Client, number: str) -> int:
    flt = json.dumps([{"field": "number", "operator": "eq", "value": number}])
    items = api.get("/ledger_accounts", params={"filter": flt}).json()["items"]
    assert len(items) == 1, items
    return int(items[0]["id"])


def journal_id(api: httpx.Client, code: str) -> int:
    items = api.get("/journals", params={"limit": 100}).json()["items"]
    return next(int(j["id"]) for j in items if j["code"] == code)


def receivable_line(api: httpx.Client, invoice: dict[str, Any]) -> dict[str, Any]:
    entry = api.get(f"/ledger_entries/{invoice['ledger_entry']['id']}").json()
    return next(line for line in entry["ledger_entry_lines"] if line["ledger_account"]["number"].startswith("411"))


def pay(api: httpx.Client, customer: dict[str, Any], amount: str, date: str = "2026-06-10") -> dict[str, Any]:
    """A cash receipt: 530 debit / the customer's 411 account credit; returns the 411 line."""
    answer = api.post("/ledger_entries", json={
        "date": date, "label": f"Encaissement {amount}", "journal_id": journal_id(api, "OD"),
        "ledger_entry_lines": [
            {"ledger_account_id": account_id(api, "530"), "debit": amount, "credit": "0.00"},
            {"ledger_account_id": customer["ledger_account"]["id"], "debit": "0.00", "credit": amount},
        ]})
    assert answer.status_code == 201, answer.text
    return next(line for line in answer.json()["ledger_entry_lines"]
                if line["ledger_account_id"] == customer["ledger_account"]["id"])


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def register_client(sandbox: Sandbox) -> dict[str, Any]:
    answer = sandbox.raw().post("/sandbox/oauth_clients", json={"redirect_uris": [REDIRECT]})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def authorize(sandbox: Sandbox, client: dict[str, Any], scope: str, **extra: str) -> httpx.Response:
    params = {"client_id": client["client_id"], "redirect_uri": REDIRECT, "response_type": "code",
              "scope": scope, "state": "st-1", "code_challenge": challenge(VERIFIER),
              "code_challenge_method": "S256", "auto_approve": "1", **extra}
    return sandbox.raw().get("/oauth/authorize", params=params)


def redirect_query(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def oauth_tokens(sandbox: Sandbox, client: dict[str, Any], scope: str = "customers:all ledger_entries:readonly"
                 ) -> dict[str, Any]:
    code = redirect_query(authorize(sandbox, client, scope))["code"]
    answer = sandbox.raw().post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER,
        "client_id": client["client_id"], "client_secret": client["client_secret"]})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def refresh(sandbox: Sandbox, client: dict[str, Any], refresh_token: str) -> httpx.Response:
    return sandbox.raw().post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": client["client_id"], "client_secret": client["client_secret"]})


def flt(*items: tuple[str, str, Any]) -> str:
    return json.dumps([{"field": f, "operator": o, "value": v} for f, o, v in items])


# -- authentication, OAuth, scopes ----------------------------------------------------------

def test_every_api_call_needs_a_valid_token(sandbox: Sandbox) -> None:
    for client in (sandbox.client(), sandbox.client("not-a-token")):
        answer = client.get("/me")
        assert answer.status_code == 401
        assert answer.json() == {"error": "The access token is invalid", "status": 401}
    me = sandbox.api().get("/me")
    assert me.status_code == 200
    body = me.json()
    assert body["user"] is None and body["company"]["reg_no"].startswith("sandbox-")
    assert "customer_invoices:all" in body["scopes"]


def test_company_token_of_my_choosing(sandbox: Sandbox) -> None:
    answer = sandbox.raw().post("/sandbox/company_tokens", json={"token": "my-dev-token-0123456789",
                                                                 "scopes": ["customers:readonly"]})
    assert answer.status_code == 201
    assert sandbox.client("my-dev-token-0123456789").get("/me").json()["scopes"] == ["customers:readonly"]
    bad = sandbox.raw().post("/sandbox/company_tokens", json={"scopes": ["ledger"]})
    assert bad.status_code == 422


def test_oauth_code_flow_with_pkce(sandbox: Sandbox) -> None:
    client = register_client(sandbox)
    tokens = oauth_tokens(sandbox, client)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 86_400
    assert tokens["scope"] == "customers:all ledger_entries:readonly"
    me = sandbox.client(tokens["access_token"]).get("/me").json()
    assert me["user"] is not None and me["scopes"] == ["customers:all", "ledger_entries:readonly"]


def test_oauth_consent_page_then_approve_or_deny(sandbox: Sandbox) -> None:
    client = register_client(sandbox)
    page = authorize(sandbox, client, "customers:all", auto_approve="0")
    assert page.status_code == 200 and "Approve" in page.text and "customers:all" in page.text
    form = {"client_id": client["client_id"], "redirect_uri": REDIRECT, "response_type": "code",
            "scope": "customers:all", "state": "st-2", "code_challenge": challenge(VERIFIER),
            "code_challenge_method": "S256"}
    approved = sandbox.raw().post("/oauth/authorize", data={**form, "decision": "approve"})
    assert set(redirect_query(approved)) == {"code", "state"}
    denied = redirect_query(sandbox.raw().post("/oauth/authorize", data={**form, "decision": "deny"}))
    assert denied["error"] == "access_denied" and denied["state"] == "st-2"


def test_oauth_works_with_authlib(sandbox: Sandbox) -> None:
    from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        # authlib 1.9 warns (through its own "always" filter, hence the import
        # above first) that its httpx integration moves to "httpx2".
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]

    client = register_client(sandbox)
    with OAuth2Client(client["client_id"], client["client_secret"], scope="customers:readonly",
                      redirect_uri=REDIRECT, code_challenge_method="S256") as oauth:
        url, state = oauth.create_authorization_url(sandbox.base + "/oauth/authorize", code_verifier=VERIFIER)
        callback = sandbox.raw().get(url + "&auto_approve=1").headers["location"]
        token = oauth.fetch_token(sandbox.base + "/oauth/token", authorization_response=callback,
                                  code_verifier=VERIFIER, state=state)
        assert token["refresh_token"]
        refreshed = oauth.refresh_token(sandbox.base + "/oauth/token")
        assert refreshed["access_token"] != token["access_token"]
    assert sandbox.client(refreshed["access_token"]).get("/customers").status_code == 200


def test_oauth_refuses_bad_verifier_missing_pkce_and_code_replay(sandbox: Sandbox) -> None:
    client = register_client(sandbox)
    no_pkce = authorize(sandbox, client, "customers:all", code_challenge="", code_challenge_method="")
    assert redirect_query(no_pkce)["error"] == "invalid_request"
    plain = authorize(sandbox, client, "customers:all", code_challenge_method="plain")
    assert redirect_query(plain)["error"] == "invalid_request"
    assert redirect_query(authorize(sandbox, client, "nope:all"))["error"] == "invalid_scope"
    unknown_client = authorize(sandbox, {**client, "client_id": "someone-else"}, "customers:all")
    assert unknown_client.status_code == 400  # never redirected

    code = redirect_query(authorize(sandbox, client, "customers:all"))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": client["client_id"], "client_secret": client["client_secret"]}
    wrong = sandbox.raw().post("/oauth/token", data={**form, "code_verifier": "y" * 50})
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    bad_secret = sandbox.raw().post("/oauth/token", data={**form, "code_verifier": VERIFIER,
                                                          "client_secret": "wrong"})
    assert (bad_secret.status_code, bad_secret.json()["error"]) == (401, "invalid_client")
    good = sandbox.raw().post("/oauth/token", data={**form, "code_verifier": VERIFIER})
    assert good.status_code == 200
    replay = sandbox.raw().post("/oauth/token", data={**form, "code_verifier": VERIFIER})
    assert replay.json()["error"] == "invalid_grant"
    # A replayed code revokes what it issued.
    assert sandbox.client(good.json()["access_token"]).get("/me").status_code == 401


def test_refresh_rotates_and_a_spent_refresh_token_is_invalid_grant(sandbox: Sandbox) -> None:
    client = register_client(sandbox)
    first = oauth_tokens(sandbox, client)
    second = refresh(sandbox, client, first["refresh_token"])
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"] and pair["access_token"] != first["access_token"]
    assert sandbox.client(first["access_token"]).get("/me").status_code == 401  # old access token died
    assert sandbox.client(pair["access_token"]).get("/me").status_code == 200
    reuse = refresh(sandbox, client, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert refresh(sandbox, client, pair["refresh_token"]).status_code == 200


def test_access_tokens_last_24_hours(sandbox: Sandbox) -> None:
    client = register_client(sandbox)
    tokens = oauth_tokens(sandbox, client)
    sandbox.wall.advance(86_399)
    assert sandbox.client(tokens["access_token"]).get("/me").status_code == 200
    sandbox.wall.advance(2)
    assert sandbox.client(tokens["access_token"]).get("/me").status_code == 401
    renewed = refresh(sandbox, client, tokens["refresh_token"]).json()
    assert sandbox.client(renewed["access_token"]).get("/me").status_code == 200
    sandbox.raw().post("/sandbox/oauth/expire_access_tokens")
    assert sandbox.client(renewed["access_token"]).get("/me").status_code == 401


def test_revoke_kills_the_pair(sandbox: Sandbox) -> None:
    client = register_client(sandbox)
    tokens = oauth_tokens(sandbox, client)
    answer = sandbox.raw().post("/oauth/revoke", data={"token": tokens["refresh_token"],
                                                       "client_id": client["client_id"],
                                                       "client_secret": client["client_secret"]})
    assert answer.status_code == 200 and answer.content == b""
    assert sandbox.client(tokens["access_token"]).get("/me").status_code == 401
    assert refresh(sandbox, client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    unknown = sandbox.raw().post("/oauth/revoke", data={"token": "whatever", "client_id": client["client_id"],
                                                        "client_secret": client["client_secret"]})
    assert unknown.status_code == 200


def test_scopes_are_enforced_per_endpoint(sandbox: Sandbox) -> None:
    reader = sandbox.api(["customers:readonly"])
    assert reader.get("/customers").status_code == 200
    assert reader.get("/me").status_code == 200
    refused = reader.post("/individual_customers", json={"first_name": "A", "last_name": "B",
                                                          "billing_address": ADDRESS})
    assert refused.status_code == 403
    assert refused.json() == {"error": 'Access to this resource requires scope "customers:all".', "status": 403}
    assert reader.get("/customer_invoices").status_code == 403
    assert reader.get("/trial_balance", params={"period_start": "2026-01-01",
                                                "period_end": "2026-12-31"}).status_code == 403
    writer = sandbox.api(["customers:all"])
    assert writer.get("/customers").status_code == 200  # :all also reads
    assert sandbox.state()["counts"]["customers"] == 0


# -- documents ----------------------------------------------------------------------------

def test_customers_and_products_found_by_external_reference(sandbox: Sandbox) -> None:
    api = sandbox.api()
    jeanne = make_customer(api, "cust-1")
    acme = make_customer(api, "cust-2", company=True)
    assert jeanne["name"] == "Jeanne cust-1" and acme["reg_no"] == "123456789"
    assert jeanne["ledger_account"]["id"] != acme["ledger_account"]["id"]
    found = api.get("/customers", params={"filter": flt(("external_reference", "eq", "cust-2"))}).json()
    assert [c["id"] for c in found["items"]] == [acme["id"]] and found["items"][0]["customer_type"] == "company"
    assert api.get(f"/customers/{jeanne['id']}").json()["customer_type"] == "individual"
    assert api.get(f"/company_customers/{acme['id']}").json()["name"] == "Société cust-2"
    assert api.get(f"/company_customers/{jeanne['id']}").status_code == 404
    updated = api.put(f"/individual_customers/{jeanne['id']}", json={"last_name": "Dupont"})
    assert updated.json()["name"] == "Jeanne Dupont"
    by_mail = api.get("/customers", params={"filter": flt(("emails", "in", ["cust-1@example.org"]))}).json()
    assert [c["id"] for c in by_mail["items"]] == [jeanne["id"]]

    kayak = api.post("/products", json={"label": "Kayak 2h", "price_before_tax": "25.00", "vat_rate": "FR_200",
                                        "external_reference": "prod-kayak", "unit": "piece"})
    assert kayak.status_code == 201
    assert kayak.json()["price"] == "30.00"
    found = api.get("/products", params={"filter": flt(("external_reference", "in", ["prod-kayak", "x"]))})
    assert [p["id"] for p in found.json()["items"]] == [kayak.json()["id"]]
    assert api.put(f"/products/{kayak.json()['id']}", json={"price_before_tax": "30.00"}).json()["price"] == "36.00"


def test_duplicates_are_refused_only_when_a_unique_key_repeats(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "dup")
    again = api.post("/individual_customers", json={"first_name": "J", "last_name": "D", "billing_address": ADDRESS,
                                                    "external_reference": "dup"})
    assert again.status_code == 409 and again.json()["status"] == 409
    make_invoice(api, customer["id"], "INV-1", [line("Kayak", 1, "10.00")])
    twice = api.post("/customer_invoices", json={"date": "2026-06-01", "deadline": "2026-06-30",
                                                 "customer_id": customer["id"], "external_reference": "INV-1",
                                                 "invoice_lines": [line("Kayak", 1, "10.00")]})
    assert twice.status_code == 422
    # No idempotency keys: the same body without a unique key creates a duplicate.
    for _ in range(2):
        assert api.post("/products", json={"label": "Paddle", "price_before_tax": "5", "vat_rate": "FR_200"}
                        ).status_code == 201
    state = sandbox.state()
    assert state["counts"]["products"] == 2 and state["counts"]["customer_invoices"] == 1
    assert state["external_references"]["customer_invoices"] == {"INV-1": 1}


def test_invoice_totals_lines_and_posted_entry(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "c-tot")
    product = api.post("/products", json={"label": "Guide", "price_before_tax": "40.00", "vat_rate": "FR_100",
                                          "unit": "hour", "ledger_account_id": account_id(api, "708")}).json()
    invoice = make_invoice(api, customer["id"], "F-TOT", [
        line("Kayak", 2, "125.00"),
        {"product_id": product["id"], "quantity": 1.5},
        line("Boisson", 3, "2.333333", "FR_55", discount={"type": "relative", "value": "10"}),
    ], label="Séjour B-1001")
    # 250.00 @20 % + 60.00 @10 % + 6.30 @5.5 % (3 x 2.333333 = 6.999999 less 10 %)
    assert (invoice["currency_amount_before_tax"], invoice["currency_tax"], invoice["amount"]) == (
        "316.30", "56.35", "372.65")
    assert invoice["invoice_number"] == "F20260001" and invoice["label"] == "Séjour B-1001"
    assert invoice["status"] == "upcoming" and not invoice["paid"]
    assert invoice["remaining_amount_with_tax"] == "372.65"
    lines = api.get(f"/customer_invoices/{invoice['id']}/invoice_lines", params={"sort": "id"}).json()["items"]
    assert [(item["quantity"], item["currency_amount"]) for item in lines] == [
        ("2", "300.00"), ("1.5", "66.00"), ("3", "6.65")]
    assert lines[1]["product"]["id"] == product["id"] and lines[1]["unit"] == "hour"
    entry = api.get(f"/ledger_entries/{invoice['ledger_entry']['id']}").json()
    postings = sorted((item["ledger_account"]["number"], item["debit"], item["credit"])
                      for item in entry["ledger_entry_lines"])
    assert postings == [
        (customer_number(api, customer), "372.65", "0.00"), ("44571", "0.00", "0.35"), ("44571", "0.00", "50.00"),
        ("44571", "0.00", "6.00"), ("706", "0.00", "256.30"), ("708", "0.00", "60.00")]
    assert entry["invoice_number"] == "F20260001" and entry["piece_number"] == "F20260001"


def customer_number(api: httpx.Client, customer: dict[str, Any]) -> str:
    return str(api.get(f"/ledger_accounts/{customer['ledger_account']['id']}").json()["number"])


def test_credit_note_is_linked_to_its_invoice(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "c-cn")
    invoice = make_invoice(api, customer["id"], "F-1", [line("Kayak", 2, "125.00")])
    credit = make_invoice(api, customer["id"], "AV-1", [line("Kayak", -1, "125.00")])
    assert credit["amount"] == "-150.00" and credit["status"] == "credit_note"
    assert credit["credited_invoice"] is None
    linked = api.post(f"/customer_invoices/{invoice['id']}/link_credit_note", json={"credit_note_id": credit["id"]})
    assert linked.status_code == 200
    assert linked.json()["credited_invoice"]["id"] == invoice["id"]
    notes = api.get("/customer_invoices", params={"filter": flt(("credit_note", "eq", "true"))}).json()["items"]
    assert [n["id"] for n in notes] == [credit["id"]]
    backwards = api.post(f"/customer_invoices/{credit['id']}/link_credit_note", json={"credit_note_id": invoice["id"]})
    assert backwards.status_code == 422
    entry = api.get(f"/ledger_entries/{credit['ledger_entry']['id']}").json()
    sides = sorted((item["ledger_account"]["number"], item["debit"], item["credit"])
                   for item in entry["ledger_entry_lines"])
    assert sides == [(customer_number(api, customer), "0.00", "150.00"), ("44571", "25.00", "0.00"),
                     ("706", "125.00", "0.00")]


def test_invoices_are_finalized_in_date_order(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "c-date")
    make_invoice(api, customer["id"], "F-1", [line("Kayak", 1, "10.00")], date="2026-06-05")
    late = api.post("/customer_invoices", json={"date": "2026-06-04", "deadline": "2026-06-30",
                                                "customer_id": customer["id"],
                                                "invoice_lines": [line("Kayak", 1, "10.00")]})
    assert late.status_code == 422 and "earlier" in late.json()["error"]
    draft = api.post("/customer_invoices", json={"date": "2026-06-05", "deadline": "2026-06-30", "draft": True,
                                                 "customer_id": customer["id"],
                                                 "invoice_lines": [line("Kayak", 1, "10.00")]})
    assert draft.status_code == 422
    assert sandbox.state()["counts"]["customer_invoices"] == 1


# -- lists: pagination and filters -----------------------------------------------------------

def test_cursor_pagination(sandbox: Sandbox) -> None:
    api = sandbox.api()
    ids = [api.post("/products", json={"label": f"P{i}", "price_before_tax": "1", "vat_rate": "FR_200"}
                    ).json()["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/products", params=params).json()
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        assert page["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert pages == 3 and seen == sorted(ids, reverse=True)  # default sort -id
    ascending = api.get("/products", params={"sort": "id", "limit": 100}).json()["items"]
    assert [p["id"] for p in ascending] == ids
    assert api.get("/products").json()["has_more"] is False


def test_list_parameters_are_checked(sandbox: Sandbox) -> None:
    api = sandbox.api()
    for limit, code in (("0", "LessThanMinimum"), ("101", "MoreThanMaximum"), ("ten", "ValidateError")):
        answer = api.get("/products", params={"limit": limit})
        assert answer.status_code == 400 and answer.json()["code"] == code and answer.json()["field"] == "limit"
    assert api.get("/ledger_accounts", params={"limit": 1000}).status_code == 200
    assert api.get("/trial_balance", params={"limit": 1000, "period_start": "2026-01-01",
                                             "period_end": "2026-12-31"}).status_code == 200
    assert api.get("/products", params={"cursor": "garbage!"}).status_code == 400
    assert api.get("/products", params={"sort": "label"}).status_code == 400
    for i in range(3):
        api.post("/products", json={"label": f"P{i}", "price_before_tax": "1", "vat_rate": "FR_200"})
    cursor = api.get("/products", params={"limit": 1}).json()["next_cursor"]
    other_sort = api.get("/products", params={"limit": 1, "cursor": cursor, "sort": "id"})
    assert other_sort.status_code == 400


def test_the_cursor_does_not_carry_the_filter(sandbox: Sandbox) -> None:
    api = sandbox.api()
    for i in range(4):
        api.post("/products", json={"label": "even" if i % 2 == 0 else "odd", "price_before_tax": "1",
                                    "vat_rate": "FR_200"})
    only_even = flt(("label", "eq", "even"))
    first = api.get("/products", params={"filter": only_even, "limit": 1}).json()
    refiltered = api.get("/products", params={"filter": only_even, "limit": 1, "cursor": first["next_cursor"]})
    assert [p["label"] for p in refiltered.json()["items"]] == ["even"]
    forgotten = api.get("/products", params={"limit": 10, "cursor": first["next_cursor"]}).json()
    assert {p["label"] for p in forgotten["items"]} == {"even", "odd"}  # the client must resend the filter


def test_filters(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "c-flt")
    other = make_customer(api, "c-other")
    first = make_invoice(api, customer["id"], "F-A", [line("A", 1, "10.00")], date="2026-03-01")
    second = make_invoice(api, other["id"], "F-B", [line("B", 1, "10.00")], date="2026-04-01")

    def ids(params: dict[str, str]) -> list[int]:
        answer = api.get("/customer_invoices", params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert ids({"filter": flt(("date", "gteq", "2026-03-15"))}) == [second["id"]]
    assert ids({"filter": flt(("customer_id", "eq", str(customer["id"])))}) == [first["id"]]
    assert ids({"filter": flt(("external_reference", "eq", "F-B"))}) == [second["id"]]
    assert ids({"filter": flt(("id", "not_in", [first["id"]]))}) == [second["id"]]
    assert ids({"filter": flt(("date", "gteq", "2026-01-01"), ("date", "lt", "2026-04-01"))}) == [first["id"]]
    assert ids({"filter": flt(("draft", "eq", "true"))}) == []
    assert ids({"sort": "date"}) == [first["id"], second["id"]]
    accounts = api.get("/ledger_accounts", params={"filter": flt(("number", "start_with", "411"))}).json()["items"]
    assert {a["number"] for a in accounts} >= {"411", customer_number(api, customer)}
    sale = api.get("/journals", params={"filter": flt(("type", "in", ["sale"]))}).json()["items"]
    assert [j["code"] for j in sale] == ["VT"]


@pytest.mark.parametrize(("params", "needle"), [
    ({"filter[0][field]": "date", "filter[0][operator]": "eq", "filter[0][value]": "2026-01-01"}, "hash"),
    ({"filter": "[{'field': 'date'}"}, "JSON"),
    ({"filter": '{"field": "date", "operator": "eq", "value": "2026-01-01"}'}, "array"),
    ({"filter": flt(("amount", "eq", "1"))}, "not supported"),
    ({"filter": flt(("external_reference", "start_with", "F"))}, "Operator"),
    ({"filter": flt(("id", "in", 3))}, "array"),
    ({"filter": flt(("date", "eq", "yesterday"))}, "Invalid value"),
    ({"filter": json.dumps([{"field": "id", "operator": "eq"}])}, "exactly"),
])
def test_bad_filters_are_400(sandbox: Sandbox, params: dict[str, str], needle: str) -> None:
    answer = sandbox.api().get("/customer_invoices", params=params)
    assert answer.status_code == 400
    assert needle in answer.json()["error"]


# -- journals, accounts, entries, lettering, trial balance ----------------------------------------

def test_journals_and_ledger_accounts(sandbox: Sandbox) -> None:
    api = sandbox.api()
    journal = api.post("/journals", json={"code": "CA", "label": "Journal de caisse"})
    assert journal.status_code == 201 and journal.json()["code"] == "CA"
    assert api.get(f"/journals/{journal.json()['id']}").json()["label"] == "Journal de caisse"
    assert api.post("/journals", json={"code": "ca", "label": "again"}).status_code == 422
    assert api.post("/journals", json={"code": "C4SH1", "label": "digits"}).status_code == 422
    listed = api.get("/journals").json()
    assert listed["total_pages"] is None and listed["items"][0]["code"] == "CA"  # -id: newest first

    deposits = api.post("/ledger_accounts", json={"number": "4191", "label": "Clients - acomptes"})
    assert deposits.status_code == 201 and deposits.json()["letterable"] is False
    assert api.post("/ledger_accounts", json={"number": "4191", "label": "twice"}).status_code == 422
    letterable = api.put(f"/ledger_accounts/{deposits.json()['id']}", json={"letterable": True})
    assert letterable.json()["letterable"] is True
    # A 411... number also creates a company customer on that account.
    aux = api.post("/ledger_accounts", json={"number": "411LUMIN", "label": "Lumin SARL"})
    assert aux.status_code == 201
    customers = api.get("/customers", params={"filter": flt(("ledger_account_id", "eq", aux.json()["id"]))})
    assert [c["name"] for c in customers.json()["items"]] == ["Lumin SARL"]


def test_ledger_entries(sandbox: Sandbox) -> None:
    api = sandbox.api()
    cash, sales = account_id(api, "530"), account_id(api, "706")
    od = journal_id(api, "OD")
    body: dict[str, Any] = {"date": "2026-05-02", "label": "Z caisse", "journal_id": od, "piece_number": "Z-0502",
            "ledger_entry_lines": [{"ledger_account_id": cash, "debit": "120.00", "credit": "0.00", "label": "Cash"},
                                   {"ledger_account_id": sales, "debit": "0.00", "credit": "120.00"}]}
    created = api.post("/ledger_entries", json=body)
    assert created.status_code == 201
    entry = created.json()
    assert entry["piece_number"] == "Z-0502" and entry["journal"]["id"] == od
    assert [(line["debit"], line["credit"]) for line in entry["ledger_entry_lines"]] == [
        ("120.00", "0.00"), ("0.00", "120.00")]
    unbalanced = api.post("/ledger_entries", json={**body, "ledger_entry_lines": [
        {**body["ledger_entry_lines"][0], "debit": "120.01"}, body["ledger_entry_lines"][1]]})
    assert unbalanced.status_code == 422 and unbalanced.json()["error"].startswith("Entry lines are not balanced")
    negative = api.post("/ledger_entries", json={**body, "ledger_entry_lines": [
        {**body["ledger_entry_lines"][0], "debit": "-1.00"}, {**body["ledger_entry_lines"][1], "credit": "-1.00"}]})
    assert negative.status_code == 422
    assert api.post("/ledger_entries", json={**body, "journal_id": 999}).status_code == 404
    auto = api.post("/ledger_entries", json={k: v for k, v in body.items() if k != "piece_number"}).json()
    assert auto["piece_number"]

    items = api.get("/ledger_entries", params={"filter": flt(("journal_id", "eq", od), ("date", "eq", "2026-05-02"))})
    assert [e["id"] for e in items.json()["items"]] == [auto["id"], entry["id"]]
    assert api.get(f"/ledger_entries/{entry['id']}").json()["label"] == "Z caisse"
    lines = api.get(f"/ledger_entries/{entry['id']}/ledger_entry_lines", params={"sort": "id"}).json()["items"]
    assert [line["ledger_account_id"] for line in lines] == [cash, sales]
    cash_lines = api.get("/ledger_entry_lines", params={"filter": flt(("ledger_account_id", "eq", cash))}).json()
    assert {line["ledger_entry"]["id"] for line in cash_lines["items"]} == {entry["id"], auto["id"]}
    one = api.get(f"/ledger_entry_lines/{lines[0]['id']}").json()
    assert one["date"] == "2026-05-02" and one["lettered_ledger_entry_lines"]["ids"] == []
    assert sandbox.state()["piece_numbers"]["Z-0502"] == 1


def test_lettering_pays_the_invoice(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "c-pay")
    invoice = make_invoice(api, customer["id"], "F-PAY", [line("Kayak", 2, "125.00")])
    receivable = receivable_line(api, invoice)
    first = pay(api, customer, "120.00")

    strict = {"unbalanced_lettering_strategy": "none",
              "ledger_entry_lines": [{"id": receivable["id"]}, {"id": first["id"]}]}
    assert api.post("/ledger_entry_lines/lettering", json=strict).status_code == 422
    partial = api.post("/ledger_entry_lines/lettering", json={**strict, "unbalanced_lettering_strategy": "partial"})
    assert partial.status_code == 200
    assert sorted(item["id"] for item in partial.json()) == sorted([receivable["id"], first["id"]])
    half = api.get(f"/customer_invoices/{invoice['id']}").json()
    assert (half["paid"], half["status"], half["remaining_amount_with_tax"], half["remaining_amount_without_tax"]) == (
        False, "partially_paid", "180.00", "150.00")

    second = pay(api, customer, "180.00")
    full = api.post("/ledger_entry_lines/lettering", json={
        "unbalanced_lettering_strategy": "none", "ledger_entry_lines": [{"id": first["id"]}, {"id": second["id"]}]})
    assert full.status_code == 200 and len(full.json()) == 3  # groups merge
    paid = api.get(f"/customer_invoices/{invoice['id']}").json()
    assert (paid["paid"], paid["status"], paid["remaining_amount_with_tax"]) == (True, "paid", "0.00")
    group = api.get(f"/ledger_entry_lines/{receivable['id']}/lettered_ledger_entry_lines").json()["items"]
    assert len(group) == 3
    assert api.get(f"/ledger_entry_lines/{second['id']}").json()["lettered_ledger_entry_lines"]["ids"] == sorted(
        [receivable["id"], first["id"], second["id"]])
    assert sandbox.state()["paid_invoices"] == [invoice["invoice_number"]]

    undo = {"unbalanced_lettering_strategy": "none", "ledger_entry_lines": [{"id": second["id"]}]}
    assert api.request("DELETE", "/ledger_entry_lines/lettering", json=undo).status_code == 422
    undo["unbalanced_lettering_strategy"] = "partial"
    assert api.request("DELETE", "/ledger_entry_lines/lettering", json=undo).status_code == 204
    again = api.get(f"/customer_invoices/{invoice['id']}").json()
    assert (again["paid"], again["remaining_amount_with_tax"]) == (False, "180.00")


def test_lettering_rules(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "c-rule")
    invoice = make_invoice(api, customer["id"], "F-R", [line("Kayak", 1, "100.00")])
    entry = api.get(f"/ledger_entries/{invoice['ledger_entry']['id']}").json()
    receivable, revenue = entry["ledger_entry_lines"][0], entry["ledger_entry_lines"][1]
    mixed = api.post("/ledger_entry_lines/lettering", json={
        "unbalanced_lettering_strategy": "partial", "ledger_entry_lines": [{"id": receivable["id"]},
                                                                          {"id": revenue["id"]}]})
    assert mixed.status_code == 422
    cash = pay(api, customer, "1.00")
    not_letterable = account_id(api, "530")
    cash_lines = api.get("/ledger_entry_lines", params={"filter": flt(("ledger_account_id", "eq", not_letterable))})
    cash_line = cash_lines.json()["items"][0]["id"]
    other_cash = pay(api, customer, "2.00")
    assert other_cash["id"] != cash["id"]
    two_cash = [line["id"] for line in api.get("/ledger_entry_lines", params={
        "filter": flt(("ledger_account_id", "eq", not_letterable))}).json()["items"]]
    refused = api.post("/ledger_entry_lines/lettering", json={
        "unbalanced_lettering_strategy": "partial", "ledger_entry_lines": [{"id": i} for i in two_cash]})
    assert refused.status_code == 422 and "not letterable" in refused.json()["error"]
    assert cash_line in two_cash
    single = api.post("/ledger_entry_lines/lettering", json={
        "unbalanced_lettering_strategy": "partial", "ledger_entry_lines": [{"id": receivable["id"]}]})
    assert single.status_code == 400 and single.json()["code"] == "LessThanMinItems"
    missing = api.post("/ledger_entry_lines/lettering", json={
        "unbalanced_lettering_strategy": "partial", "ledger_entry_lines": [{"id": receivable["id"]}, {"id": 1}]})
    assert missing.status_code == 404


def test_mark_as_paid_without_lettering(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "c-mark")
    invoice = make_invoice(api, customer["id"], "F-M", [line("Kayak", 1, "100.00")])
    assert api.put(f"/customer_invoices/{invoice['id']}/mark_as_paid").status_code == 204
    assert api.get(f"/customer_invoices/{invoice['id']}").json()["status"] == "paid"
    assert api.put("/customer_invoices/1/mark_as_paid").status_code == 404


def test_trial_balance_sums_per_account(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "c-tb")
    make_invoice(api, customer["id"], "F-TB", [line("Kayak", 2, "125.00")])
    pay(api, customer, "300.00", date="2026-06-10")
    pay(api, customer, "7.00", date="2027-01-02")  # outside the period

    def balance(**params: str) -> dict[str, tuple[str, str]]:
        answer = api.get("/trial_balance", params={"period_start": "2026-01-01", "period_end": "2026-12-31",
                                                   "limit": 1000, **params})
        assert answer.status_code == 200, answer.text
        return {row["number"]: (row["debits"], row["credits"]) for row in answer.json()["items"]}

    assert balance() == {"411": ("300.00", "300.00"), "44571": ("0.00", "50.00"), "530": ("300.00", "0.00"),
                         "706": ("0.00", "250.00")}
    detailed = balance(is_auxiliary="true")
    assert detailed[customer_number(api, customer)] == ("300.00", "300.00") and "411" not in detailed
    rows = api.get("/trial_balance", params={"period_start": "2026-01-01", "period_end": "2026-12-31"}).json()
    assert rows["items"][0]["formatted_number"] == "41100000"
    assert api.get("/trial_balance", params={"period_start": "2026-01-01"}).status_code == 400
    assert api.get("/trial_balance", params={"period_start": "2026-12-31",
                                             "period_end": "2026-01-01"}).status_code == 400
    years = api.get("/fiscal_years", params={"sort": "start"}).json()["items"]
    assert [y["start"] for y in years] == ["2026-01-01", "2027-01-01"]


# -- robustness ----------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "needle"), [
    (b"{bad json", "Malformed JSON"),
    (b"", "required"),
    (b"[1, 2]", "must be an object"),
    (b'{"date": "2026-06-01", "deadline": "2026-06-30", "customer_id": 1, "invoice_lines": [], "x": 1}',
     "not a known field"),
    (b'{"date": "2026-06-01", "deadline": "2026-06-30", "customer_id": "1", "invoice_lines": []}', "integer"),
    (b'{"date": "2026-06-01", "deadline": "2026-06-30", "customer_id": 1}', "invoice_lines is required"),
    (b'{"date": "01/06/2026", "deadline": "2026-06-30", "customer_id": 1, "invoice_lines": []}', "YYYY-MM-DD"),
    (b'{"date": "2026-06-01", "deadline": "2026-06-30", "customer_id": 1, "invoice_lines": []}', "at least 1"),
    (b'{"date": "2026-06-01", "deadline": "2026-06-30", "customer_id": 1, "invoice_lines": [{"label": "x", '
     b'"quantity": 1, "raw_currency_unit_price": 10.5, "unit": "piece", "vat_rate": "FR_200"}]}', "string"),
    (b'{"date": "2026-06-01", "deadline": "2026-06-30", "customer_id": 1, "invoice_lines": [{"label": "x", '
     b'"quantity": NaN, "raw_currency_unit_price": "1", "unit": "piece", "vat_rate": "FR_200"}]}', "Malformed"),
])
def test_bad_bodies_get_the_documented_400(sandbox: Sandbox, content: bytes, needle: str) -> None:
    api = sandbox.api()
    answer = api.post("/customer_invoices", content=content, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    body = answer.json()
    assert needle in body.get("message", body.get("error", ""))
    assert set(body) in ({"message", "field", "code"}, {"error", "status"})
    assert api.get("/me").status_code == 200  # still serving


def test_business_errors_are_422_or_404(sandbox: Sandbox) -> None:
    api = sandbox.api()
    customer = make_customer(api, "c-err")
    unknown_vat = api.post("/customer_invoices", json={"date": "2026-06-01", "deadline": "2026-06-30",
                                                       "customer_id": customer["id"],
                                                       "invoice_lines": [line("x", 1, "1", "FR_999x")]})
    assert unknown_vat.status_code == 400 and unknown_vat.json()["code"] == "NotEnumInclude"
    no_customer = api.post("/customer_invoices", json={"date": "2026-06-01", "deadline": "2026-06-30",
                                                       "customer_id": 42, "invoice_lines": [line("x", 1, "1")]})
    assert no_customer.status_code == 404
    assert no_customer.json() == {"error": "Couldn't find Customer with 'id'=42", "status": 404}
    too_precise = api.post("/customer_invoices", json={"date": "2026-06-01", "deadline": "2026-06-30",
                                                       "customer_id": customer["id"],
                                                       "invoice_lines": [line("x", 1, "1.1234567")]})
    assert too_precise.status_code == 422
    backwards = api.post("/customer_invoices", json={"date": "2026-06-01", "deadline": "2026-05-30",
                                                     "customer_id": customer["id"],
                                                     "invoice_lines": [line("x", 1, "1")]})
    assert backwards.status_code == 422
    assert api.get("/customer_invoices/abc").status_code == 404
    assert api.get("/ledger_entries/123").json()["error"] == "Couldn't find LedgerEntry with 'id'=123"
    finalized = make_invoice(api, customer["id"], "F-E", [line("x", 1, "1")])
    assert api.delete(f"/customer_invoices/{finalized['id']}").status_code == 422
    assert api.put(f"/customer_invoices/{finalized['id']}/finalize").status_code == 422


def test_rate_limit_answers_429_with_headers(make_sandbox: Callable[..., Sandbox]) -> None:
    clock = FakeClock(100.0)
    sandbox = make_sandbox(rate_limit=(25, 5.0), clock=clock)
    api, other = sandbox.api(), sandbox.api()
    remaining = []
    for _ in range(25):
        answer = api.get("/me")
        assert answer.status_code == 200
        assert answer.headers["ratelimit-limit"] == "25"
        remaining.append(int(answer.headers["ratelimit-remaining"]))
        assert int(answer.headers["ratelimit-reset"]) >= int(sandbox.wall.now)
    assert remaining == list(range(24, -1, -1))
    refused = api.get("/me")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/plain")
    assert refused.text == "Rate limit exceeded. Please retry in 5 seconds."
    assert refused.headers["retry-after"] == "5" and refused.headers["ratelimit-remaining"] == "0"
    assert other.get("/me").status_code == 200  # per token
    assert sandbox.raw().get("/sandbox/state").status_code == 200  # never limited
    clock.advance(4.5)
    assert api.get("/me").status_code == 429
    clock.advance(0.5)
    assert api.get("/me").status_code == 200
    assert sandbox.state()["requests"]["rate_limited"] == 2


def test_unlimited_when_asked(make_sandbox: Callable[..., Sandbox]) -> None:
    api = make_sandbox(rate_limit=None).api()
    for _ in range(40):
        answer = api.get("/me")
        assert answer.status_code == 200 and "ratelimit-limit" not in answer.headers


# -- faults ------------------------------------------------------------------------------

def _outcomes(sandbox: Sandbox, count: int) -> list[object]:
    api = sandbox.api()
    outcomes: list[object] = []
    for i in range(count):
        try:
            outcomes.append(api.post("/products", json={"label": f"P{i}", "price_before_tax": "1",
                                                        "vat_rate": "FR_200"}).status_code)
        except httpx.TransportError:
            outcomes.append("drop")
    return outcomes


def test_fault_plan_is_deterministic(make_sandbox: Callable[..., Sandbox]) -> None:
    plan = dataclasses.replace(parse_fault_plan("42:40%"), slow_s=0.0)
    first = _outcomes(make_sandbox(faults=plan), 40)
    second = _outcomes(make_sandbox(faults=plan), 40)
    assert first == second
    expected = [201 if f is None or f.kind == "slow" else ("drop" if f.kind == "drop" else f.status)
                for f in preview(plan, 40)]
    assert first == expected
    assert {"drop", 429} <= set(first) and set(first) & {500, 502, 503}


def test_dropped_write_is_committed(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(faults="1:drop=100%")
    api = sandbox.api()  # /sandbox/ endpoints are never faulted
    customer_body = {"first_name": "Jeanne", "last_name": "Drop", "billing_address": ADDRESS,
                     "external_reference": "c-drop"}
    with pytest.raises(httpx.TransportError):
        api.post("/individual_customers", json=customer_body)
    assert sandbox.raw().put("/sandbox/faults", json={"plan": None}).json()["faults"] is None
    found = api.get("/customers", params={"filter": flt(("external_reference", "eq", "c-drop"))}).json()["items"]
    assert len(found) == 1  # the client saw an error, yet the customer exists
    state = sandbox.state()
    assert state["counts"]["customers"] == 1 and state["requests"]["faults"] == {"drop": 1}


def test_oauth_and_sandbox_endpoints_are_never_faulted(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(faults="3:5xx=100%")
    client = register_client(sandbox)
    tokens = oauth_tokens(sandbox, client)
    assert refresh(sandbox, client, tokens["refresh_token"]).status_code == 200
    assert sandbox.state()["faults"] == "3:5xx=100%"
    assert sandbox.api().get("/me").status_code in (500, 502, 503)


# -- persistence ---------------------------------------------------------------------------

def test_state_survives_a_restart(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    path = tmp_path / "pennylane.json"
    first = make_sandbox(state_path=path)
    token = first.token()
    client = register_client(first)
    tokens = oauth_tokens(first, client)
    api = first.client(token)
    customer = make_customer(api, "c-keep")
    invoice = make_invoice(api, customer["id"], "F-KEEP", [line("Kayak", 1, "10.00")])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert token not in path.read_text() and tokens["refresh_token"] not in path.read_text()

    second = make_sandbox(state_path=path)
    api = second.client(token)
    assert api.get(f"/customer_invoices/{invoice['id']}").json()["external_reference"] == "F-KEEP"
    assert second.state()["counts"]["customers"] == 1
    renewed = refresh(second, client, tokens["refresh_token"])
    assert renewed.status_code == 200
    again = make_customer(api, "c-next")
    assert again["id"] > customer["id"]  # ids are not reused
    later = make_invoice(api, customer["id"], "F-NEXT", [line("Kayak", 1, "10.00")])
    assert later["invoice_number"] == "F20260002"


# -- tampering behind the client's back --------------------------------------------------------

def test_sandbox_mutations(sandbox: Sandbox) -> None:
    api, raw = sandbox.api(), sandbox.raw()
    customer = make_customer(api, "c-tamper")
    invoice = make_invoice(api, customer["id"], "F-T1", [line("Kayak", 1, "100.00")])
    changed = raw.patch(f"/sandbox/customer_invoices/{invoice['id']}", json={"amount": "99.99"})
    assert changed.status_code == 200
    assert api.get(f"/customer_invoices/{invoice['id']}").json()["amount"] == "99.99"
    assert raw.post(f"/sandbox/customer_invoices/{invoice['id']}/mark_paid").status_code == 204
    assert api.get(f"/customer_invoices/{invoice['id']}").json()["paid"] is True

    hidden = raw.post("/sandbox/customer_invoices", json={
        "date": "2026-01-01", "deadline": "2026-01-31", "customer_id": customer["id"],
        "external_reference": "UNKNOWN-1", "invoice_lines": [line("Ghost", 1, "5.00")]})
    assert hidden.status_code == 201
    assert api.get("/customer_invoices", params={"filter": flt(("external_reference", "eq", "UNKNOWN-1"))}
                   ).json()["items"][0]["id"] == hidden.json()["id"]

    entry_id = invoice["ledger_entry"]["id"]
    line_id = receivable_line(api, invoice)["id"]
    assert raw.patch(f"/sandbox/ledger_entry_lines/{line_id}", json={"debit": "130.00"}).status_code == 200
    assert receivable_line(api, invoice)["debit"] == "130.00"
    assert raw.delete(f"/sandbox/ledger_entries/{entry_id}").status_code == 204
    assert api.get(f"/ledger_entries/{entry_id}").status_code == 404
    assert raw.delete(f"/sandbox/customer_invoices/{invoice['id']}").status_code == 204
    assert api.get(f"/customer_invoices/{invoice['id']}").status_code == 404
    assert raw.delete(f"/sandbox/customer_invoices/{invoice['id']}").status_code == 404
    manual = raw.post("/sandbox/ledger_entries", json={
        "date": "2026-02-01", "label": "Ghost entry", "journal_id": journal_id(api, "OD"),
        "ledger_entry_lines": [{"ledger_account_id": account_id(api, "530"), "debit": "1", "credit": "0"},
                               {"ledger_account_id": account_id(api, "708"), "debit": "0", "credit": "1"}]})
    assert manual.status_code == 201
    counts = sandbox.state()["counts"]
    assert (counts["customer_invoices"], counts["ledger_entries"]) == (1, 2)
    assert raw.post("/sandbox/reset").json()["customer_invoices"] == 0
    assert api.get("/me").status_code == 200  # credentials survive a reset


# -- conformance ---------------------------------------------------------------------------

def test_every_exchange_matches_the_openapi_description(openapi: Any, sandbox: Sandbox,
                                                       exchanges: list[Exchange]) -> None:
    """A walk through every implemented endpoint; the ``exchanges`` fixture checks each one."""
    if openapi is None:
        pytest.skip(f"Pennylane OpenAPI file not found at {SPEC_PATH}")
    api = sandbox.api()
    company = make_customer(api, "conf-co", company=True)
    person = make_customer(api, "conf-in")
    api.get(f"/company_customers/{company['id']}")
    api.put(f"/company_customers/{company['id']}", json={"phone": "+33491000000", "delivery_address": None})
    api.get(f"/individual_customers/{person['id']}")
    api.get("/customers", params={"limit": 1, "sort": "id"})
    product = api.post("/products", json={"label": "Kayak", "price_before_tax": "25.5", "vat_rate": "FR_200"}).json()
    api.get(f"/products/{product['id']}")
    invoice = make_invoice(api, person["id"], "CONF-1", [{"product_id": product["id"], "quantity": 2},
                                                         line("Extra", 1, "3.00", "FR_55")])
    credit = make_invoice(api, person["id"], "CONF-2", [line("Extra", -1, "3.00", "FR_55")])
    api.post(f"/customer_invoices/{invoice['id']}/link_credit_note", json={"credit_note_id": credit["id"]})
    api.get("/customer_invoices", params={"filter": flt(("credit_note", "eq", True))})
    api.get(f"/customer_invoices/{invoice['id']}/invoice_lines")
    api.post("/journals", json={"code": "CONF", "label": "Conformance"})
    journals = api.get("/journals").json()
    api.get(f"/journals/{journals['items'][0]['id']}")
    account = api.post("/ledger_accounts", json={"number": "5112", "label": "Chèques à encaisser"}).json()
    api.get(f"/ledger_accounts/{account['id']}")
    api.put(f"/ledger_accounts/{account['id']}", json={"label": "Chèques"})
    payment = pay(api, person, "10.00")
    lettered = api.post("/ledger_entry_lines/lettering", json={
        "unbalanced_lettering_strategy": "partial",
        "ledger_entry_lines": [{"id": receivable_line(api, invoice)["id"]}, {"id": payment["id"]}]})
    assert lettered.status_code == 200
    api.get(f"/ledger_entry_lines/{payment['id']}/lettered_ledger_entry_lines")
    api.request("DELETE", "/ledger_entry_lines/lettering", json={
        "unbalanced_lettering_strategy": "partial", "ledger_entry_lines": [{"id": payment["id"]}]})
    entries = api.get("/ledger_entries", params={"sort": "date"}).json()
    api.get(f"/ledger_entries/{entries['items'][0]['id']}/ledger_entry_lines")
    api.get("/ledger_entry_lines", params={"filter": flt(("date", "gteq", "2026-01-01"))})
    api.get("/trial_balance", params={"period_start": "2026-01-01", "period_end": "2026-12-31",
                                      "is_auxiliary": "true"})
    api.get("/fiscal_years")
    api.put(f"/customer_invoices/{invoice['id']}/mark_as_paid")
    sandbox.client().get("/me")  # 401
    sandbox.api(["customers:readonly"]).get("/products")  # 403
    api.get("/products/999")  # 404
    api.post("/journals", json={"code": "CONF", "label": "again"})  # 422
    api.post("/ledger_entries", json={"date": "2026-01-01"})  # 400
    api.post("/company_customers", json={"name": "Dup", "billing_address": ADDRESS,
                                         "external_reference": "conf-co"})  # 409
    assert len([e for e in exchanges if e[0].url.path.startswith(API)]) >= 35


# -- the CLI entry point -----------------------------------------------------------------

def test_main_prints_its_base_url_and_serves(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with sandbox_main("connectors.pennylane.sandbox", state, "5:0%") as (proc, described):
        assert (described["persistent"], described["faults"]) == (True, "5:0%")
        assert described["rate_limit"] == {"limit": 25, "window_s": 5.0}
    assert proc.returncode == 0 and state.exists()


def test_main_refuses_a_bad_fault_plan() -> None:
    from connectors.pennylane.sandbox import main

    with pytest.raises(ValueError, match="SEED:PLAN"):
        main(0, None, "often")
