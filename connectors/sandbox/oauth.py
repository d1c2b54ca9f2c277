"""A small OAuth 2.0 authorization server for the sandboxes (RFC 6749, 7636, 7009).

What it does, because both providers do it:

- authorization code grant; PKCE ``S256`` (``plain`` is refused); the code is
  single-use and short-lived, and replaying it revokes what it issued;
- access tokens with a lifetime (Pennylane: 24 h);
- **refresh token rotation**: each refresh returns a new pair, and the refresh
  token used and the access token of the old pair die at once (a provider
  whose old access tokens live on until they expire sets
  ``revoke_access_on_refresh=False``); presenting a spent refresh token again
  gives ``invalid_grant``;
- revocation of either token of a pair revokes the pair (RFC 7009 answers 200
  even for unknown tokens);
- client authentication by ``client_secret_post`` or ``client_secret_basic``.

Clients are registered through the sandbox (``register_client``). Secrets and
tokens are stored only as SHA-256 digests, so the state file never holds a
usable credential. The state lives in a dict owned by the caller (``data()``
returns it each time, so a sandbox reset is seen at once), and ``on_change``
is called after every mutation so the caller can persist it.

``oauth_routes`` exposes the server as Starlette routes; the consent page is a
bare HTML form, and ``auto_approve=1`` on the authorize URL skips it (tests).
Its hooks let a provider choose the subject from the authorization request
(QuickBooks: the company, ``realmId``), echo it in the redirect, reshape the
token answer, and take the revocation body as JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import re
import secrets
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.responses import JSONResponse
from starlette.responses import PlainTextResponse
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "AuthorizationServer",
    "AuthorizeFailure",
    "AuthorizeRequest",
    "Grant",
    "OAuthConfig",
    "OAuthError",
    "oauth_routes",
]

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    """Lifetimes and rules of one provider's OAuth server.

    Attributes:
        scopes: every scope a client may ask for.
        access_ttl_s: access token lifetime.
        refresh_ttl_s: refresh token lifetime.
        code_ttl_s: authorization code lifetime.
        require_pkce: refuse authorization requests without a PKCE challenge.
        revoke_access_on_refresh: a refresh also kills the old access token
            (False: it lives until it expires).
    """

    scopes: frozenset[str]
    access_ttl_s: int = 86_400
    refresh_ttl_s: int = 90 * 86_400
    code_ttl_s: int = 600
    require_pkce: bool = True
    revoke_access_on_refresh: bool = True


@dataclass(frozen=True, slots=True)
class OAuthError:
    """An RFC 6749 error answer."""

    error: str
    description: str
    status: int = 400

    def body(self) -> dict[str, str]:
        """The JSON body of the error."""
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """A checked authorization request."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None


@dataclass(frozen=True, slots=True)
class AuthorizeFailure:
    """A refused authorization request; ``redirect_uri`` is None when it must not redirect."""

    error: OAuthError
    redirect_uri: str | None
    state: str | None


@dataclass(frozen=True, slots=True)
class Grant:
    """What a live access token grants."""

    grant_id: str
    client_id: str
    scopes: frozenset[str]
    subject: str
    expires_at: float


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class AuthorizationServer:
    """OAuth 2.0 server logic over a caller-owned, JSON-compatible dict."""

    def __init__(
        self,
        data: Callable[[], dict[str, Any]],
        config: OAuthConfig,
        *,
        now: Callable[[], float] = time.time,
        on_change: Callable[[], None] = lambda: None,
        new_secret: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        self._data = data
        self.config = config
        self._now = now
        self._on_change = on_change
        self._new_secret = new_secret

    def _table(self, name: str) -> dict[str, Any]:
        table: dict[str, Any] = self._data().setdefault(name, {})
        return table

    # -- clients -------------------------------------------------------------

    def register_client(
        self, redirect_uris: list[str], client_id: str | None = None, client_secret: str | None = None
    ) -> tuple[str, str]:
        """Register a client; returns ``(client_id, client_secret)``.

        Raises:
            ValueError: when a redirect URI is not an absolute http(s) URL.
        """
        for uri in redirect_uris:
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                raise ValueError(f"redirect URI {uri!r} must be an absolute http(s) URL without fragment")
        client_id = client_id or f"sandbox-client-{secrets.token_hex(8)}"
        client_secret = client_secret or self._new_secret()
        self._table("clients")[client_id] = {"secret": _digest(client_secret), "redirect_uris": list(redirect_uris)}
        self._on_change()
        return client_id, client_secret

    def _authenticate_client(self, form: Mapping[str, str], authorization: str | None) -> str | OAuthError:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return OAuthError("invalid_client", "malformed Basic credentials", 401)
            user, _, password = decoded.partition(":")
            client_id, secret = _unquote(user), _unquote(password)
        client = self._table("clients").get(client_id or "")
        if client is None or secret is None or not hmac.compare_digest(client["secret"], _digest(secret)):
            return OAuthError("invalid_client", "unknown client or wrong client secret", 401)
        return str(client_id)

    # -- authorization endpoint ---------------------------------------------

    def check_authorize(self, params: Mapping[str, str]) -> AuthorizeRequest | AuthorizeFailure:
        """Check the query of an authorization request."""
        client = self._table("clients").get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        state = params.get("state")
        if client is None:
            return AuthorizeFailure(OAuthError("invalid_client", "unknown client_id"), None, state)
        if redirect_uri not in client["redirect_uris"]:
            return AuthorizeFailure(OAuthError("invalid_request", "redirect_uri is not registered"), None, state)

        def fail(error: str, description: str) -> AuthorizeFailure:
            return AuthorizeFailure(OAuthError(error, description), redirect_uri, state)

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", "response_type must be code")
        scopes = tuple(params.get("scope", "").split())
        unknown = sorted(set(scopes) - self.config.scopes)
        if not scopes or unknown:
            return fail("invalid_scope", f"unknown scope(s): {' '.join(unknown)}" if unknown else "scope is required")
        challenge = params.get("code_challenge")
        if challenge is None:
            if self.config.require_pkce:
                return fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
        elif params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(challenge):
            return fail("invalid_request", "only code_challenge_method=S256 with a 43-character challenge is accepted")
        return AuthorizeRequest(params["client_id"], redirect_uri, scopes, state, challenge)

    def issue_code(self, request: AuthorizeRequest, subject: str) -> str:
        """Approve ``request`` for ``subject``; returns the authorization code."""
        code = self._new_secret()
        self._table("codes")[_digest(code)] = {
            "client_id": request.client_id,
            "redirect_uri": request.redirect_uri,
            "scopes": list(request.scopes),
            "challenge": request.code_challenge,
            "subject": subject,
            "expires_at": self._now() + self.config.code_ttl_s,
            "used": False,
            "grant_id": None,
        }
        self._on_change()
        return code

    # -- token endpoint ------------------------------------------------------

    def token(self, form: Mapping[str, str], authorization: str | None) -> dict[str, Any] | OAuthError:
        """Answer a token request (authorization_code or refresh_token grant)."""
        client_id = self._authenticate_client(form, authorization)
        if isinstance(client_id, OAuthError):
            return client_id
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(client_id, form)
        if grant_type == "refresh_token":
            return self._refresh(client_id, form)
        return OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")

    def _exchange_code(self, client_id: str, form: Mapping[str, str]) -> dict[str, Any] | OAuthError:
        code = self._table("codes").get(_digest(form.get("code", "")))
        if code is None or code["client_id"] != client_id:
            return OAuthError("invalid_grant", "unknown authorization code")
        if code["used"]:
            # A replayed code may be stolen: kill what it issued (RFC 6749 4.1.2).
            if code["grant_id"]:
                self._revoke_grant(code["grant_id"])
                self._on_change()
            return OAuthError("invalid_grant", "authorization code already used")
        if code["expires_at"] <= self._now():
            return OAuthError("invalid_grant", "authorization code expired")
        if form.get("redirect_uri") != code["redirect_uri"]:
            return OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        problem = self._check_verifier(code["challenge"], form.get("code_verifier"))
        if problem is not None:
            return problem
        code["used"] = True
        answer = self._new_grant(client_id, code["scopes"], code["subject"])
        code["grant_id"] = answer.pop("_grant_id")
        self._on_change()
        return answer

    def _check_verifier(self, challenge: str | None, verifier: str | None) -> OAuthError | None:
        if challenge is None:
            return None
        if verifier is None or not _VERIFIER.match(verifier):
            return OAuthError("invalid_grant", "code_verifier is missing or malformed")
        if not hmac.compare_digest(_s256(verifier), challenge):
            return OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        return None

    def _refresh(self, client_id: str, form: Mapping[str, str]) -> dict[str, Any] | OAuthError:
        digest = _digest(form.get("refresh_token", ""))
        if digest in self._table("spent_refresh"):
            return OAuthError("invalid_grant", "refresh token already used (tokens rotate on every refresh)")
        grant_id = self._table("refresh").get(digest)
        grant = self._table("grants").get(grant_id or "")
        if grant is None or grant["client_id"] != client_id:
            return OAuthError("invalid_grant", "unknown or revoked refresh token")
        if grant["refresh_expires_at"] <= self._now():
            return OAuthError("invalid_grant", "refresh token expired")
        scopes = form.get("scope", "").split() or grant["scopes"]
        if not set(scopes) <= set(grant["scopes"]):
            return OAuthError("invalid_scope", "a refresh cannot widen the granted scopes")
        self._retire_grant(grant_id or "")
        self._table("spent_refresh")[digest] = self._now()
        answer = self._new_grant(client_id, scopes, grant["subject"])
        answer.pop("_grant_id")
        self._on_change()
        return answer

    def _retire_grant(self, grant_id: str) -> None:
        if self.config.revoke_access_on_refresh:
            self._revoke_grant(grant_id)
            return
        # Only the refresh token dies; the access token lives out its lifetime.
        grant = self._table("grants")[grant_id]
        self._table("refresh").pop(grant["refresh"], None)
        grant["refresh"] = None
        grant["refresh_expires_at"] = 0

    def _prune_grants(self, now: float) -> None:
        # Grants left with neither a refresh token nor a live access token.
        dead = [grant_id for grant_id, grant in self._table("grants").items()
                if grant["refresh"] is None and grant["access_expires_at"] <= now]
        for grant_id in dead:
            self._revoke_grant(grant_id)

    def _new_grant(self, client_id: str, scopes: list[str], subject: str) -> dict[str, Any]:
        access, refresh, grant_id = self._new_secret(), self._new_secret(), secrets.token_hex(8)
        now = self._now()
        if not self.config.revoke_access_on_refresh:
            self._prune_grants(now)
        self._table("grants")[grant_id] = {
            "client_id": client_id,
            "scopes": list(scopes),
            "subject": subject,
            "access": _digest(access),
            "refresh": _digest(refresh),
            "access_expires_at": now + self.config.access_ttl_s,
            "refresh_expires_at": now + self.config.refresh_ttl_s,
        }
        self._table("access")[_digest(access)] = grant_id
        self._table("refresh")[_digest(refresh)] = grant_id
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.config.access_ttl_s,
            "refresh_token": refresh,
            "scope": " ".join(scopes),
            "created_at": int(now),
            "_grant_id": grant_id,
        }

    # -- revocation and use --------------------------------------------------

    def revoke(self, form: Mapping[str, str], authorization: str | None) -> OAuthError | None:
        """Revoke the pair holding ``form["token"]`` (unknown tokens are fine)."""
        client_id = self._authenticate_client(form, authorization)
        if isinstance(client_id, OAuthError):
            return client_id
        digest = _digest(form.get("token", ""))
        grant_id = self._table("access").get(digest) or self._table("refresh").get(digest)
        grant = self._table("grants").get(grant_id or "")
        if grant is not None and grant["client_id"] == client_id:
            self._revoke_grant(grant_id or "")
            self._on_change()
        return None

    def _revoke_grant(self, grant_id: str) -> None:
        grant = self._table("grants").pop(grant_id, None)
        if grant is not None:
            self._table("access").pop(grant["access"], None)
            if grant["refresh"] is not None:
                self._table("refresh").pop(grant["refresh"], None)

    def resolve(self, access_token: str) -> Grant | None:
        """The live grant of an access token, or None (unknown, revoked, expired)."""
        grant_id = self._table("access").get(_digest(access_token))
        grant = self._table("grants").get(grant_id or "")
        if grant is None or grant["access_expires_at"] <= self._now():
            return None
        return Grant(grant_id or "", grant["client_id"], frozenset(grant["scopes"]), grant["subject"],
                     grant["access_expires_at"])

    def expire_access_tokens(self) -> int:
        """Make every access token expired now (refresh tokens stay valid); returns how many."""
        grants = self._table("grants").values()
        for grant in grants:
            grant["access_expires_at"] = min(grant["access_expires_at"], self._now())
        self._on_change()
        return len(grants)


def _unquote(text: str) -> str:
    # client_secret_basic form-encodes the id and secret (RFC 6749 2.3.1).
    return dict(parse_qsl(f"v={text}", keep_blank_values=True)).get("v", "")


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _form_or_json(body: bytes, content_type: str) -> dict[str, str]:
    # Intuit's revocation endpoint takes {"token": ...} as JSON; RFC 7009 a form.
    if not content_type.split(";")[0].strip().lower().endswith("json"):
        return _form(body)
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(key): item for key, item in value.items() if isinstance(item, str)}


def oauth_routes(
    server: AuthorizationServer,
    *,
    subject: Callable[[], str],
    authorize_path: str = "/oauth/authorize",
    token_path: str = "/oauth/token",
    revoke_path: str = "/oauth/revoke",
    redirect_extras: Callable[[AuthorizeRequest], Mapping[str, str]] = lambda request: {},
    title: str = "Sandbox",
    subject_for: Callable[[Mapping[str, str]], str | OAuthError] | None = None,
    subject_param: str | None = None,
    shape_token: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[Route]:
    """Starlette routes for the authorize, token and revoke endpoints.

    Args:
        server: the authorization server.
        subject: who approves (the sandbox's one company), stored in the grant.
        authorize_path: path of the authorization endpoint (GET and POST).
        token_path: path of the token endpoint.
        revoke_path: path of the revocation endpoint.
        redirect_extras: extra query parameters for the redirect back to the
            client.
        title: name shown on the consent page.
        subject_for: when given, chooses the subject from the authorization
            request's parameters instead of ``subject()``; an ``OAuthError``
            refuses the request (redirected back to the client).
        subject_param: when given, the redirect back to the client carries
            the subject under this name (QuickBooks: ``realmId``).
        shape_token: reshapes a successful token answer (field names and
            extras of the provider).
    """

    def choose_subject(params: Mapping[str, str]) -> str | OAuthError:
        return subject() if subject_for is None else subject_for(params)

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        decision = None
        if request.method == "POST":
            params = _form(await request.body())
            decision = params.get("decision")
        checked = server.check_authorize(params)
        if isinstance(checked, AuthorizeFailure):
            return _authorize_failure(checked)
        if decision == "deny":
            failure = AuthorizeFailure(OAuthError("access_denied", "the user denied access"), checked.redirect_uri,
                                       checked.state)
            return _authorize_failure(failure)
        if decision == "approve" or params.get("auto_approve") == "1":
            chosen = choose_subject(params)
            if isinstance(chosen, OAuthError):
                return _authorize_failure(AuthorizeFailure(chosen, checked.redirect_uri, checked.state))
            code = server.issue_code(checked, chosen)
            query = {"code": code, **({"state": checked.state} if checked.state is not None else {}),
                     **({subject_param: chosen} if subject_param else {}), **redirect_extras(checked)}
            return RedirectResponse(_with_query(checked.redirect_uri, query), status_code=302)
        return HTMLResponse(_consent_page(title, checked, params))

    async def token(request: Request) -> Response:
        answer = server.token(_form(await request.body()), request.headers.get("authorization"))
        if isinstance(answer, OAuthError):
            return JSONResponse(answer.body(), status_code=answer.status, headers=_NO_STORE)
        return JSONResponse(shape_token(answer) if shape_token else answer, headers=_NO_STORE)

    async def revoke(request: Request) -> Response:
        form = _form_or_json(await request.body(), request.headers.get("content-type", ""))
        problem = server.revoke(form, request.headers.get("authorization"))
        if problem is not None:
            return JSONResponse(problem.body(), status_code=problem.status)
        return Response(status_code=200)

    return [
        Route(authorize_path, authorize, methods=["GET", "POST"]),
        Route(token_path, token, methods=["POST"]),
        Route(revoke_path, revoke, methods=["POST"]),
    ]


_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def _with_query(uri: str, query: Mapping[str, str]) -> str:
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{urlencode(query)}"


def _authorize_failure(failure: AuthorizeFailure) -> Response:
    if failure.redirect_uri is None:
        # Never redirect to an unverified URI (RFC 6749 4.1.2.1).
        return PlainTextResponse(f"{failure.error.error}: {failure.error.description}", status_code=400)
    query = {"error": failure.error.error, "error_description": failure.error.description}
    if failure.state is not None:
        query["state"] = failure.state
    return RedirectResponse(_with_query(failure.redirect_uri, query), status_code=302)


def _consent_page(title: str, request: AuthorizeRequest, params: Mapping[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items() if k != "decision"
    )
    scopes = "".join(f"<li>{html.escape(scope)}</li>" for scope in request.scopes)
    return (
        f"<!doctype html><title>{html.escape(title)}: authorize</title>"
        f"<h1>{html.escape(title)}</h1><p>Client <code>{html.escape(request.client_id)}</code> asks for:</p>"
        f"<ul>{scopes}</ul><form method=post>{hidden}"
        '<button name=decision value=approve>Approve</button> '
        '<button name=decision value=deny>Deny</button></form>'
    )
