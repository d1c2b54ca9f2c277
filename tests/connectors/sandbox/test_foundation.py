"""The sandbox foundation: fault plans, rate limiter, state file, server, schema, OAuth."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import stat
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import Route

from connectors.sandbox.faults import Fault
from connectors.sandbox.faults import FaultInjector
from connectors.sandbox.faults import FaultMiddleware
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.faults import parse_fault_plan
from connectors.sandbox.faults import preview
from connectors.sandbox.oauth import AuthorizationServer
from connectors.sandbox.oauth import AuthorizeFailure
from connectors.sandbox.oauth import AuthorizeRequest
from connectors.sandbox.oauth import OAuthConfig
from connectors.sandbox.oauth import OAuthError
from connectors.sandbox.ratelimit import SlidingWindowLimiter
from connectors.sandbox.schema import Arr
from connectors.sandbox.schema import Int
from connectors.sandbox.schema import Num
from connectors.sandbox.schema import Obj
from connectors.sandbox.schema import OneOf
from connectors.sandbox.schema import Str
from connectors.sandbox.schema import validate
from connectors.sandbox.server import bind_loopback
from connectors.sandbox.server import running
from connectors.sandbox.server import serve
from connectors.sandbox.state import StateError
from connectors.sandbox.state import StateStore


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- fault plans -------------------------------------------------------------------


def test_mixed_plan_shares_the_rate_between_kinds() -> None:
    plan = parse_fault_plan("42:10%")
    assert plan.seed == 42
    assert {kind: plan.rate(kind) for kind in ("429", "5xx", "slow", "drop")} == {
        "429": Decimal("0.03"), "5xx": Decimal("0.03"), "slow": Decimal("0.02"), "drop": Decimal("0.02"),
    }


def test_per_kind_plan_and_round_trip() -> None:
    plan = parse_fault_plan("7:429=5%,5xx=3%,slow=1%,drop=2%")
    assert plan.rate("429") == Decimal("0.05")
    assert plan.rate("drop") == Decimal("0.02")
    assert parse_fault_plan(plan.describe()) == plan


@pytest.mark.parametrize("text", ["10%", "x:10%", "1:", "1:abc", "1:429=5", "1:boom=5%", "1:429=5%,429=1%",
                                  "1:60%,", "1:drop=70%,5xx=40%"])
def test_malformed_plans_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"fault|rate|percent"):
        parse_fault_plan(text)


def test_same_seed_same_faults_other_seed_other_faults() -> None:
    plan = parse_fault_plan("42:30%")
    first = preview(plan, 500)
    assert first == preview(plan, 500)
    assert first != preview(dataclasses.replace(plan, seed=43), 500)
    injector = FaultInjector(plan)
    assert tuple(injector.next_fault() for _ in range(500)) == first
    assert sum(injector.counts.values()) == sum(f is not None for f in first)


def test_rates_are_roughly_respected() -> None:
    faults = preview(parse_fault_plan("3:5xx=10%,drop=5%"), 10_000)
    five_xx = sum(f is not None and f.kind == "5xx" for f in faults)
    drops = sum(f is not None and f.kind == "drop" for f in faults)
    assert 800 < five_xx < 1200
    assert 350 < drops < 650
    assert {f.status for f in faults if f is not None and f.kind == "5xx"} == {500, 502, 503}


def test_429_faults_come_in_bursts() -> None:
    plan = FaultPlan(5, (("429", Decimal("0.05")),), burst_min=2, burst_max=4)
    faults = preview(plan, 2_000)
    runs, current = [], 0
    for fault in faults:
        if fault is not None:
            assert fault == Fault("429", 429)
            current += 1
        elif current:
            runs.append(current)
            current = 0
    assert runs and min(runs) >= 2
    assert any(run > 2 for run in runs)


def test_zero_plan_never_faults() -> None:
    assert preview(parse_fault_plan("1:0%"), 100) == (None,) * 100


def _tiny_app(calls: list[str]) -> Starlette:
    async def write(request: Request) -> Response:
        calls.append(request.url.path)
        return JSONResponse({"ok": True}, status_code=201)

    async def empty(request: Request) -> Response:
        calls.append(request.url.path)
        return Response(status_code=204)

    return Starlette(routes=[Route("/api/write", write, methods=["POST"]), Route("/api/empty", empty,
                                                                                   methods=["DELETE"]),
                             Route("/auth", write, methods=["POST"])])


def test_middleware_applies_each_kind() -> None:
    calls: list[str] = []
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    holder: dict[str, FaultInjector | None] = {"injector": None}
    app = FaultMiddleware(_tiny_app(calls), lambda: holder["injector"],
                          lambda scope: scope["path"].startswith("/api/"), sleep=fake_sleep)
    with running(app) as base, httpx.Client(base_url=base) as client:
        holder["injector"] = FaultInjector(parse_fault_plan("1:5xx=100%"))
        assert client.post("/api/write").status_code in (500, 502, 503)
        assert calls == []  # a 5xx is answered before the request is executed
        assert client.post("/auth").status_code == 201  # not faultable

        holder["injector"] = FaultInjector(parse_fault_plan("1:429=100%"))
        answer = client.post("/api/write")
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "1"
        assert "retry" in answer.text

        holder["injector"] = FaultInjector(dataclasses.replace(parse_fault_plan("1:slow=100%"), slow_s=1.5))
        assert client.post("/api/write").status_code == 201
        assert slept == [1.5]

        holder["injector"] = FaultInjector(parse_fault_plan("1:drop=100%"))
        calls.clear()
        for method, path in (("POST", "/api/write"), ("DELETE", "/api/empty")):
            with pytest.raises(httpx.TransportError):
                client.request(method, path)
        assert calls == ["/auth", "/api/write", "/api/empty"][1:]  # both were executed

        holder["injector"] = None
        assert client.post("/api/write").json() == {"ok": True}


def test_non_faultable_requests_do_not_consume_draws() -> None:
    plan = parse_fault_plan("9:50%")
    injector = FaultInjector(plan)
    app = FaultMiddleware(_tiny_app([]), lambda: injector, lambda scope: scope["path"].startswith("/api/"),
                          sleep=_no_sleep)
    with running(app) as base, httpx.Client(base_url=base) as client:
        outcomes: list[object] = []
        for _ in range(20):
            client.post("/auth")
            try:
                outcomes.append(client.post("/api/write").status_code)
            except httpx.TransportError:
                outcomes.append("drop")
    expected: list[object] = []
    for fault in preview(plan, 20):
        if fault is None or fault.kind == "slow":
            expected.append(201)
        else:
            expected.append("drop" if fault.kind == "drop" else fault.status)
    assert outcomes == expected


async def _no_sleep(seconds: float) -> None:
    return None


# -- rate limiter ------------------------------------------------------------------


def test_limiter_counts_per_key_and_reports_remaining() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 5.0, clock)
    decisions = [limiter.hit("a") for _ in range(3)]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.allowed for d in decisions)
    refused = limiter.hit("a")
    assert not refused.allowed
    assert refused.reset_s == pytest.approx(5.0)
    assert refused.retry_after_s == 5
    assert limiter.hit("b").allowed  # another key has its own window


def test_limiter_window_slides() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 5.0, clock)
    for _ in range(3):
        assert limiter.hit("k").allowed
        clock.advance(1.0)
    # t=3: the three requests of t=0,1,2 are all within the window.
    assert not limiter.hit("k").allowed
    clock.advance(1.9)
    assert not limiter.hit("k").allowed  # t=4.9
    clock.advance(0.1)
    decision = limiter.hit("k")  # t=5.0: the t=0 request has left
    assert decision.allowed and decision.remaining == 0
    assert decision.reset_s == pytest.approx(1.0)
    assert not limiter.hit("k").allowed
    assert limiter.peek("k").remaining == 0


def test_refused_requests_do_not_extend_the_wait() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(1, 5.0, clock)
    limiter.hit("k")
    for _ in range(16):
        clock.advance(0.25)  # exact in binary: no float drift around the edge
        assert not limiter.hit("k").allowed
    clock.advance(1.0)
    assert limiter.hit("k").allowed


def test_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0, 5.0)


# -- state file ----------------------------------------------------------------------


def test_memory_state_writes_nothing(tmp_path: object) -> None:
    store = StateStore(None, lambda: {"n": 0})
    store.data["n"] = 1
    store.save()
    assert store.path is None and store.data == {"n": 1}


def test_state_file_is_atomic_owner_only_and_reloads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "deep" / "state.json"
    store = StateStore(path, lambda: {"n": 0})
    store.data["n"] = 41
    store.save()
    store.data["n"] = 42
    store.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(path.parent) == ["state.json"]  # no temporary file left behind
    assert StateStore(path, lambda: {"n": 0}).data == {"n": 42}
    store.reset()
    assert json.loads(path.read_text()) == {"n": 0}


def test_corrupt_state_file_is_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(StateError, match="cannot read"):
        StateStore(path, dict)
    path.write_text("[1, 2]")
    with pytest.raises(StateError, match="not a JSON object"):
        StateStore(path, dict)


# -- server ------------------------------------------------------------------------


def _hello_app() -> Starlette:
    async def hello(request: Request) -> Response:
        return JSONResponse({"hello": request.client.host if request.client else None})

    return Starlette(routes=[Route("/", hello)])


def test_running_binds_loopback_on_a_free_port_and_stops() -> None:
    with running(_hello_app()) as first, running(_hello_app()) as second:
        assert first.startswith("http://127.0.0.1:") and second.startswith("http://127.0.0.1:")
        assert first != second
        assert httpx.get(first + "/").json() == {"hello": "127.0.0.1"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(first + "/")


@pytest.mark.parametrize("host", ["0.0.0.0", "localhost", "::1", "192.168.1.10"])
def test_other_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        bind_loopback(0, host)
    with pytest.raises(ValueError):
        serve(_hello_app(), 0, host=host)
    with pytest.raises(ValueError), running(_hello_app(), host=host):
        pass  # pragma: no cover


# -- schema --------------------------------------------------------------------------

_LINE = Obj({"label": Str(), "quantity": Num(), "price": Str(pattern=r"-?\d+(\.\d+)?")},
            frozenset({"label", "quantity"}))
_BODY = Obj({"date": Str(date=True), "lines": Arr(_LINE, min_items=1, max_items=2), "n": Int(minimum=1),
             "kind": OneOf((Obj({"a": Int()}, frozenset({"a"})), Obj({"b": Int()}, frozenset({"b"}))))},
            frozenset({"date", "lines"}))


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"date": "2026-01-01", "lines": [{"label": "x", "quantity": 1}]}, None, None),
    ({"date": "2026-02-30", "lines": [{"label": "x", "quantity": 1}]}, "InvalidDateFormat", "date"),
    ({"lines": [{"label": "x", "quantity": 1}]}, "NotExistRequiredKey", "date"),
    ({"date": "2026-01-01", "lines": [], "extra": 1}, "NotExistPropertyDefinition", "extra"),
    ({"date": "2026-01-01", "lines": []}, "LessThanMinItems", "lines"),
    ({"date": "2026-01-01", "lines": [{"label": "x", "quantity": 1}] * 3}, "MoreThanMaxItems", "lines"),
    ({"date": "2026-01-01", "lines": [{"label": "x", "quantity": "1"}]}, "ValidateError", "lines[0].quantity"),
    ({"date": "2026-01-01", "lines": [{"label": "x", "quantity": 1, "price": Decimal("1.5")}]}, "ValidateError",
     "lines[0].price"),
    ({"date": "2026-01-01", "lines": [{"label": "x", "quantity": 1, "price": "1,5"}]}, "InvalidPattern",
     "lines[0].price"),
    ({"date": "2026-01-01", "lines": [{"label": None, "quantity": 1}]}, "NotNullError", "lines[0].label"),
    ({"date": "2026-01-01", "lines": [{"label": "x", "quantity": True}]}, "ValidateError", "lines[0].quantity"),
    ({"date": "2026-01-01", "lines": [{"label": "x", "quantity": 1}], "n": 0}, "LessThanMinimum", "n"),
    ({"date": "2026-01-01", "lines": [{"label": "x", "quantity": 1}], "kind": {"c": 1}}, "NotOneOf", "kind"),
    ([], "ValidateError", ""),
])
def test_schema_reports_the_first_violation(body: object, code: str | None, field: str | None) -> None:
    violation = validate(_BODY, body)
    if code is None:
        assert violation is None
    else:
        assert violation is not None and (violation.code, violation.field) == (code, field)


# -- OAuth server (unit level, fake clock) ---------------------------------------------

_VERIFIER = "v" * 50


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _server(clock: FakeClock) -> tuple[AuthorizationServer, str, str]:
    state: dict[str, object] = {}
    server = AuthorizationServer(lambda: state, OAuthConfig(frozenset({"a:all", "b:readonly"})), now=clock)
    client_id, secret = server.register_client(["http://127.0.0.1:1/cb"])
    return server, client_id, secret


def _authorize(server: AuthorizationServer, client_id: str, **extra: str) -> AuthorizeRequest | AuthorizeFailure:
    params = {"client_id": client_id, "redirect_uri": "http://127.0.0.1:1/cb", "response_type": "code",
              "scope": "a:all", "state": "xyz", "code_challenge": _challenge(_VERIFIER),
              "code_challenge_method": "S256", **extra}
    return server.check_authorize(params)


def test_code_expires_and_verifier_must_match() -> None:
    clock = FakeClock()
    server, client_id, secret = _server(clock)
    request = _authorize(server, client_id)
    assert isinstance(request, AuthorizeRequest)
    form = {"grant_type": "authorization_code", "redirect_uri": "http://127.0.0.1:1/cb", "client_id": client_id,
            "client_secret": secret, "code_verifier": _VERIFIER}
    code = server.issue_code(request, "company")
    clock.advance(601)
    assert server.token({**form, "code": code}, None) == OAuthError("invalid_grant", "authorization code expired")
    code = server.issue_code(request, "company")
    wrong = server.token({**form, "code": code, "code_verifier": "w" * 50}, None)
    assert isinstance(wrong, OAuthError) and wrong.error == "invalid_grant"
    answer = server.token({**form, "code": code}, None)
    assert isinstance(answer, dict) and answer["expires_in"] == 86_400


def test_authorize_checks_client_redirect_scope_and_pkce() -> None:
    server, client_id, _ = _server(FakeClock())
    unknown = _authorize(server, "nobody")
    assert isinstance(unknown, AuthorizeFailure) and unknown.redirect_uri is None
    elsewhere = _authorize(server, client_id, redirect_uri="http://evil.example/cb")
    assert isinstance(elsewhere, AuthorizeFailure) and elsewhere.redirect_uri is None
    for extra, error in (({"scope": "c:all"}, "invalid_scope"), ({"code_challenge_method": "plain"}, "invalid_request"),
                         ({"response_type": "token"}, "unsupported_response_type")):
        failure = _authorize(server, client_id, **extra)
        assert isinstance(failure, AuthorizeFailure) and failure.error.error == error
        assert failure.redirect_uri == "http://127.0.0.1:1/cb" and failure.state == "xyz"


def test_refresh_rotation_expiry_and_basic_auth() -> None:
    clock = FakeClock()
    server, client_id, secret = _server(clock)
    request = _authorize(server, client_id)
    assert isinstance(request, AuthorizeRequest)
    code = server.issue_code(request, "company")
    basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    first = server.token({"grant_type": "authorization_code", "code": code, "redirect_uri": request.redirect_uri,
                          "code_verifier": _VERIFIER}, basic)
    assert isinstance(first, dict)
    assert server.resolve(first["access_token"]) is not None
    clock.advance(86_401)
    assert server.resolve(first["access_token"]) is None  # 24 h
    second = server.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, basic)
    assert isinstance(second, dict) and second["refresh_token"] != first["refresh_token"]
    again = server.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, basic)
    assert isinstance(again, OAuthError) and again.error == "invalid_grant"
    bad_client = server.token({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
                              "Basic " + base64.b64encode(f"{client_id}:nope".encode()).decode())
    assert isinstance(bad_client, OAuthError) and (bad_client.error, bad_client.status) == ("invalid_client", 401)
    clock.advance(90 * 86_400 + 1)
    expired = server.token({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, basic)
    assert isinstance(expired, OAuthError) and expired.description == "refresh token expired"


def test_oauth_state_holds_no_usable_secret() -> None:
    state: dict[str, object] = {}
    server = AuthorizationServer(lambda: state, OAuthConfig(frozenset({"a:all"})), now=FakeClock())
    client_id, secret = server.register_client(["http://127.0.0.1:1/cb"])
    request = server.check_authorize({"client_id": client_id, "redirect_uri": "http://127.0.0.1:1/cb",
                                      "response_type": "code", "scope": "a:all",
                                      "code_challenge": _challenge(_VERIFIER), "code_challenge_method": "S256"})
    assert isinstance(request, AuthorizeRequest)
    code = server.issue_code(request, "company")
    answer = server.token({"grant_type": "authorization_code", "code": code, "redirect_uri": request.redirect_uri,
                           "code_verifier": _VERIFIER, "client_id": client_id, "client_secret": secret}, None)
    assert isinstance(answer, dict)
    dumped = json.dumps(state)
    for secret_value in (secret, code, answer["access_token"], answer["refresh_token"]):
        assert secret_value not in dumped
