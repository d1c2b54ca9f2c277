"""The sandbox's HTTP errors, with the bodies Pennylane documents.

| status | body |
|---|---|
| 400 | ``{"message", "field", "code"}`` (schema) or ``{"error", "status"}`` |
| 401 | ``{"error": "The access token is invalid", "status": 401}`` |
| 403 | ``{"error": "Access to this resource requires scope ...", "status": 403}`` |
| 404 | ``{"error": "Couldn't find Journal with 'id'=123", "status": 404}`` |
| 409 | ``{"error": "Conflict ... Resource already exists.", "status": 409}`` |
| 422 | ``{"error": "<business rule>", "status": 422}`` |

(429 is plain text; it is answered by the app module.) ``ApiError`` is raised
by the domain code and turned into a response at the HTTP edge only.
"""

from __future__ import annotations

from typing import Any

from connectors.sandbox.schema import Violation

__all__ = [
    "ApiError",
    "bad_request",
    "conflict",
    "forbidden",
    "from_violation",
    "not_found",
    "unauthorized",
    "unprocessable",
]


class ApiError(Exception):
    """An HTTP error answer: status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def bad_request(message: str, field: str | None = None, code: str | None = None) -> ApiError:
    """400; with a field and a code when the problem is one parameter."""
    if field is None or code is None:
        return ApiError(400, {"error": message, "status": 400})
    return ApiError(400, {"message": message, "field": field, "code": code})


def from_violation(violation: Violation) -> ApiError:
    """400 for a request body that does not fit its schema."""
    return ApiError(400, {"message": violation.message, "field": violation.field or "body", "code": violation.code})


def unauthorized() -> ApiError:
    """401: token missing, unknown, revoked or expired."""
    return ApiError(401, {"error": "The access token is invalid", "status": 401})


def forbidden(scopes: tuple[str, ...]) -> ApiError:
    """403 naming the scope(s) that would grant access."""
    wanted = " or ".join(f'"{scope}"' for scope in scopes)
    return ApiError(403, {"error": f"Access to this resource requires scope {wanted}.", "status": 403})


def not_found(model: str | None = None, ident: object = None) -> ApiError:
    """404, new-style message when the model is known."""
    message = f"Couldn't find {model} with 'id'={ident}" if model else "Not Found"
    return ApiError(404, {"error": message, "status": 404})


def conflict() -> ApiError:
    """409 for a duplicate unique key."""
    return ApiError(409, {
        "error": "Conflict with the current state of the target resource. Resource already exists.",
        "status": 409,
    })


def unprocessable(message: str) -> ApiError:
    """422: the request is well formed but breaks a business rule."""
    return ApiError(422, {"error": message, "status": 422})
