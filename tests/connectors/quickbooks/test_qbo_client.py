"""The QuickBooks client over ``httpx.MockTransport``: error translation, wire format, paging, pacing.

Fault bodies are the shapes QuickBooks sends (reference §3.6): the JSON
``Fault``, the gateway's lowercase ``fault`` on a 401, the XML throttle
fault, plain-text gateway pages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.errors import AuthError
from connectors.errors import ConnectorError
from connectors.errors import PermanentError
from connectors.errors import RateLimited
from connectors.errors import TransientError
from connectors.pacing import Pacer
from connectors.quickbooks.client import FaultError
from connectors.quickbooks.client import QuickBooksClient
from connectors.quickbooks.client import dumps

SECRET = "eyJ-secret-access-token"
Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, **options: Any) -> QuickBooksClient:
    http = httpx.Client(base_url="https://qbo.test/v3/company/9130", transport=httpx.MockTransport(handler),
                        headers={"authorization": f"Bearer {SECRET}"})
    options.setdefault("pacer", Pacer(1000, 1.0))
    return QuickBooksClient(http, **options)


def fault(code: str, message: str, detail: str = "", kind: str = "ValidationFault", element: str = "") -> dict:
    return {"Fault": {"Error": [{"Message": message, "Detail": detail, "code": code, "element": element}],
                      "type": kind}, "time": "2026-06-15T05:00:00.000-07:00"}


def answer(status: int, body: Any = None, *, text: str | None = None, **headers: str) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handle


THROTTLE_XML = ('<?xml version="1.0"?><IntuitResponse><Fault type="SERVICE"><Error code="3001"><Message>message='
                'ThrottleExceeded; errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.'
                '  Try again later</Detail></Error></Fault></IntuitResponse>')
GATEWAY_401 = {"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                    "detail": "Token expired: ...", "code": "3200", "element": None}],
                         "type": "AUTHENTICATION"}, "batchItemResponse": []}


@pytest.mark.parametrize(("handler", "error", "code", "words"), [
    (answer(429, fault("3001", "message=ThrottleExceeded", "The request limit was reached.", "SERVICE")),
     RateLimited, None, "request limit"),
    (answer(403, text=THROTTLE_XML), RateLimited, None, "ThrottleExceeded"),
    (answer(500, fault("10000", "An application error has occurred", "System Failure Error", "SystemFault")),
     TransientError, None, "System Failure"),
    (answer(503, text="Service Unavailable"), TransientError, None, "Service Unavailable"),
    (answer(400, fault("10000", "An application error has occurred")), TransientError, None, "application error"),
    (answer(401, GATEWAY_401), AuthError, None, "Token expired"),
    (answer(403, fault("3100", "ApplicationAuthorizationFailed", kind="AuthorizationFault")), AuthError, None,
     "ApplicationAuthorizationFailed"),
    (answer(400, fault("6140", "Duplicate Document Number Error", "DocNumber=F-1 is assigned to TxnId=12",
                       element="DocNumber")), FaultError, "6140", "DocNumber=F-1 is assigned"),
    (answer(400, fault("6000", "A business validation error has occurred", "Make sure all your transactions "
                       "have a VAT rate before you save.")), FaultError, "6000", "VAT rate"),
    (answer(400, fault("2020", "Required param missing", "Required parameter CustomerRef is missing")),
     FaultError, "2020", "CustomerRef"),
    (answer(400, fault("2500", "Invalid Reference Id", "Item 99 does not exist")), FaultError, "2500", "Item 99"),
    (answer(200, fault("6240", "Duplicate Name Exists Error")), FaultError, "6240", "Duplicate Name"),
    (answer(200, text="<html>not json</html>"), TransientError, None, "not JSON"),
    (answer(404, text="<html>Not Found</html>"), FaultError, "", "Not Found"),
])
def test_faults_become_connector_errors_with_quickbooks_words(handler: Handler, error: type, code: str | None,
                                                              words: str) -> None:
    with pytest.raises(ConnectorError) as raised:
        client(handler).write("Invoice", {"DocNumber": "F-1"}, "ptd-1-abc:Invoice")
    assert type(raised.value) is error
    assert words in raised.value.message and SECRET not in raised.value.message
    assert raised.value.message.startswith("QuickBooks POST /invoice")
    if code is not None:
        assert isinstance(raised.value, PermanentError) and raised.value.code == code  # type: ignore[attr-defined]


def test_a_throttle_waits_what_quickbooks_says_else_a_minute() -> None:
    with pytest.raises(RateLimited) as raised:
        client(answer(429, fault("3001", "ThrottleExceeded"), **{"retry-after": "7"})).read("Invoice", "1")
    assert raised.value.retry_after_s == 7
    with pytest.raises(RateLimited) as raised:
        client(answer(429, fault("3001", "ThrottleExceeded"))).read("Invoice", "1")
    assert raised.value.retry_after_s == 60


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                     httpx.RemoteProtocolError("peer closed connection")])
def test_transport_failures_are_transient_and_chained(failure: Exception) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(TransientError) as raised:
        client(handle).write("Payment", {"TotalAmt": Decimal("1.00")}, "r")
    assert raised.value.__cause__ is failure


def test_writes_carry_minorversion_requestid_and_exact_amounts() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"Invoice": {"Id": "145", "TotalAmt": 224.0}})

    record = client(handle).write("Invoice", {"Line": [{"Amount": Decimal("186.67"), "Qty": Decimal("7"),
                                                         "UnitPrice": Decimal("26.6671429")}],
                                              "TotalTax": Decimal("37.33"), "Name": "Crème brûlée"}, "ptd-9-ab:Invoice")
    [request] = seen
    assert dict(request.url.params) == {"minorversion": "75", "requestid": "ptd-9-ab:Invoice"}
    assert request.content.decode() == ('{"Line":[{"Amount":186.67,"Qty":7,"UnitPrice":26.6671429}],'
                                        '"TotalTax":37.33,"Name":"Crème brûlée"}')
    assert record["TotalAmt"] == Decimal("224.0")  # answers are read as Decimal, never float


def test_dumps_refuses_floats() -> None:
    assert dumps({"a": [Decimal("0.10"), True, None, 3]}) == b'{"a":[0.10,true,null,3]}'
    with pytest.raises(TypeError, match="never float"):
        dumps({"Amount": 0.1})


def test_queries_follow_pages_and_batches_answer_per_item() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/query"):
            start = int(request.url.params["query"].split("STARTPOSITION ")[1].split()[0])
            rows = [{"Id": str(i)} for i in range(start, min(start + 1000, 1004))]
            return httpx.Response(200, json={"QueryResponse": {"Customer": rows} if rows else {}})
        items = json.loads(request.content)["BatchItemRequest"]
        assert "requestid" not in request.url.params or request.url.params["requestid"] == "ptd-1:names"
        return httpx.Response(200, json={"BatchItemResponse": [
            {"bId": "b0", "Customer": {"Id": "1"}},
            {"bId": "b1", "Fault": {"Error": [{"Message": "ThrottleExceeded", "code": "3001"}], "type": "SERVICE"}},
            {"bId": "b2", "Fault": {"Error": [{"Message": "System Failure", "code": "10000"}], "type": "SystemFault"}},
            {"bId": "b3", "Fault": {"Error": [{"Message": "Duplicate Name Exists Error", "code": "6240"}]}},
        ][:len(items)]})

    api = client(handle)
    assert [row["Id"] for row in api.query("SELECT * FROM Customer")] == [str(i) for i in range(1, 1004)]
    results = api.batch([{"bId": f"b{i}", "operation": "create", "Customer": {}} for i in range(5)], "ptd-1:names")
    assert [type(r).__name__ for r in results] == ["dict", "RateLimited", "TransientError", "FaultError",
                                                   "TransientError"]  # b4 got no answer
    assert api.requests == 3 and (api.batches, api.batch_items) == (1, 5)
    with pytest.raises(ValueError):
        api.batch([{"bId": str(i)} for i in range(31)], None)


def test_requests_go_through_the_pacers() -> None:
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds

    clock = Clock()
    api = client(answer(200, {"BatchItemResponse": [{"bId": "q", "QueryResponse": {}}]}),
                 pacer=Pacer(3, 60.0, clock=clock, sleep=clock.sleep),
                 batch_pacer=Pacer(2, 60.0, clock=clock, sleep=clock.sleep))
    for _ in range(3):
        api.queries({"q": "SELECT * FROM Item"})
    assert clock.now == 60.0  # two batches per minute: the third waited a minute
    assert (api.pacer.waited_s, api.batch_pacer.waited_s) == (0, 60.0)
    for _ in range(4):
        api.request("GET", "/preferences")
    assert clock.now == 120.0  # three requests per minute: the 4th (7th in all) waited
    assert api.pacer.waited_s == 60.0
