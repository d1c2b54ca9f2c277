"""The sandbox's error answers, in QuickBooks' ``Fault`` shapes (reference §3.6).

Most errors are HTTP 400 with::

    {"Fault": {"Error": [{"Message", "Detail", "code", "element"}],
               "type": "ValidationFault"}, "time": "..."}

| code | HTTP | when |
|---|---|---|
| 500 | 400 | operation not supported (delete a customer, write a tax code) |
| 610 | 400 | object not found (read or update of an unknown Id) |
| 2010 | 400 | malformed JSON, unknown property, wrong type |
| 2020 | 400 | required parameter missing |
| 2050 | 400 | string too long (DocNumber over 21 characters) |
| 2170 | 400 | value outside an enumeration |
| 2500 | 400 | reference to an unknown or inactive object |
| 3001 | 429 | throttled (``type: SERVICE``) |
| 3100 | 403 | token for another company, or without the accounting scope |
| 3200 | 401 | token missing, unknown, revoked or expired |
| 4000 / 4001 | 400 | query parse error / invalid query |
| 5010 | 400 | stale SyncToken |
| 6000 | 400 | business validation (unbalanced entry, missing tax code...) |
| 6140 | 400 | duplicate DocNumber |
| 6240 | 400 | duplicate name |
| 6540 | 400 | a deposited payment cannot change |
| 10000 | 500 | unexpected error (the sandbox keeps serving) |

The 401 comes in the gateway's lowercase shape (``{"fault": {"error": [...],
"type": "AUTHENTICATION"}}``) as real integrations observe it. ``QboError``
is raised by the domain code and turned into a response at the HTTP edge,
which adds ``time``; in a batch it becomes the item's ``Fault``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "QboError",
    "business",
    "deposited",
    "duplicate_doc_number",
    "duplicate_name",
    "forbidden",
    "invalid_enum",
    "invalid_property",
    "invalid_reference",
    "not_found",
    "query_invalid",
    "query_parse",
    "required",
    "stale",
    "system_error",
    "throttled",
    "too_long",
    "unauthorized",
    "unsupported",
]


class QboError(Exception):
    """An error answer: HTTP status and the body without its ``time``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body

    @property
    def fault(self) -> dict[str, Any]:
        """The ``Fault`` object (what a batch item carries)."""
        fault: dict[str, Any] = self.body.get("Fault") or self.body.get("fault") or {}
        return fault

    @property
    def code(self) -> str:
        """The first error's code."""
        errors = self.fault.get("Error") or self.fault.get("error") or [{}]
        return str(errors[0].get("code", ""))


def _fault(code: str, message: str, detail: str, *, element: str = "", status: int = 400,
           kind: str = "ValidationFault") -> QboError:
    error = {"Message": message, "Detail": detail, "code": code, "element": element}
    return QboError(status, {"Fault": {"Error": [error], "type": kind}})


def unsupported(detail: str) -> QboError:
    """500 (400): the operation does not exist for this entity."""
    return _fault("500", "Unsupported Operation", f"Operation {detail} is not supported.")


def not_found(entity: str, ident: object) -> QboError:
    """610: no such object (or deleted)."""
    return _fault("610", "Object Not Found",
                  f"Object Not Found : Something you're trying to use has been made inactive or deleted: "
                  f"{entity} Id={ident}", element="Id")


def invalid_property(detail: str, element: str = "") -> QboError:
    """2010: the body is not JSON, or holds an unknown or mistyped property."""
    return _fault("2010", "Request has invalid or unsupported property",
                  f"Property Name:{detail} specified is unsupported or invalid", element=element)


def required(element: str) -> QboError:
    """2020: a required parameter is missing."""
    return _fault("2020", "Required param missing, need to supply the required value for the API",
                  f"Required parameter {element} is missing in the request", element=element)


def too_long(element: str, maximum: int, given: int) -> QboError:
    """2050: a string is longer than the API allows."""
    return _fault("2050", "String length is either shorter or longer than supported by specification",
                  f"String length specified does not match the supported length. Min:0 Max:{maximum} "
                  f"supplied length:{given}", element=element)


def invalid_enum(element: str, value: object) -> QboError:
    """2170: a value outside its enumeration."""
    return _fault("2170", "Invalid Enumeration", f"Invalid Enumeration : {value}", element=element)


def invalid_reference(entity: str, ident: object, element: str, *, inactive: bool = False) -> QboError:
    """2500: a reference to an object that does not exist or is inactive."""
    why = "has been made inactive" if inactive else "does not exist"
    return _fault("2500", "Invalid Reference Id",
                  f"Invalid Reference Id : {entity} {ident} referenced by {element} {why}", element=element)


def stale(entity: str, ident: object) -> QboError:
    """5010: the SyncToken sent is not the object's current one."""
    return _fault("5010", "Stale Object Error",
                  f"Stale Object Error : You and sandbox were working on this at the same time. sandbox "
                  f"finished before you did, so your work was not saved. ({entity} Id={ident})", element="SyncToken")


def business(detail: str, element: str = "") -> QboError:
    """6000: a business rule is broken."""
    return _fault("6000", "A business validation error has occurred while processing your request",
                  f"Business Validation Error: {detail}", element=element)


def duplicate_doc_number(doc_number: str, entity: str, ident: str) -> QboError:
    """6140: the DocNumber is already used by a transaction of this type."""
    return _fault("6140", "Duplicate Document Number Error",
                  f"Duplicate Document Number Error : You must specify a different number. This number has "
                  f"already been used. DocNumber={doc_number} is assigned to TxnType={entity} with TxnId={ident}",
                  element="DocNumber")


def duplicate_name(name: str, entity: str) -> QboError:
    """6240: the name is already used."""
    return _fault("6240", "Duplicate Name Exists Error",
                  f"The name supplied already exists. : Another {entity.lower()} is already using this name "
                  f"({name}). Please use a different name.", element="Name")


def deposited(ident: str) -> QboError:
    """6540: a payment already in a deposit cannot change."""
    return _fault("6540", "Deposited Transaction cannot be changed",
                  f"This transaction has been deposited (Payment Id={ident}). Remove it from the deposit first.")


def query_parse(detail: str) -> QboError:
    """4000: the query does not parse."""
    return _fault("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_invalid(detail: str) -> QboError:
    """4001: the query parses but asks for something unsupported."""
    return _fault("4001", "Invalid query", f"QueryValidationError: {detail}")


def unauthorized(detail: str) -> QboError:
    """401 in the gateway's lowercase shape (code 3200)."""
    error = {"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401", "detail": detail,
             "code": "3200", "element": None}
    return QboError(401, {"warnings": None, "intuitObject": None, "fault": {"error": [error], "type": "AUTHENTICATION"},
                          "report": None, "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
                          "syncErrorResponse": None, "requestId": None, "status": None, "cdcresponse": []})


def forbidden(detail: str) -> QboError:
    """403 (code 3100): the token does not grant this company or scope."""
    return _fault("3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", detail,
                  status=403, kind="AuthorizationFault")


def throttled(detail: str = "The request limit was reached.  Try again later") -> QboError:
    """429 (code 3001)."""
    return _fault("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429", detail, status=429,
                  kind="SERVICE")


def system_error(status: int = 500) -> QboError:
    """An unexpected server error (code 10000)."""
    return _fault("10000", "An application error has occurred while processing your request",
                  "System Failure Error: An unexpected error occurred while accessing or saving your data. "
                  "Please wait a few minutes and try again.", status=status, kind="SystemFault")
