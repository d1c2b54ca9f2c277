"""The OAuth 2.0 authorization-code flow with PKCE, for `partida connect`.

A one-shot listener on 127.0.0.1 receives the redirect; the user opens the
printed URL in any browser (no browser is launched). authlib makes the PKCE
verifier and challenge and the state; the token request is a plain form POST.
"""

from __future__ import annotations

import http.server
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from .errors import AuthError


@dataclass(frozen=True)
class OAuthClient:
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str
    scope: str


class _Catch(http.server.BaseHTTPRequestHandler):
    result: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        type(self).result.update(query)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"Partida is connected. You can close this window.\n")

    def log_message(self, format: str, *args: object) -> None:  # the URL holds the code: never log it
        return


REDIRECT_PORT = 8719


def redirect_uri(port: int = REDIRECT_PORT) -> str:
    """The redirect URI to register with the provider for ``partida connect``."""
    return f"http://127.0.0.1:{port}/callback"


def authorize(client: OAuthClient, session: httpx.Client, announce: Callable[[str], None],
              timeout_s: float = 300, port: int = REDIRECT_PORT) -> dict[str, object]:
    """Run the flow; returns the token response (access and refresh tokens)."""
    handler = type("Catch", (_Catch,), {"result": {}})
    server = http.server.HTTPServer(("127.0.0.1", port), handler)
    redirect = redirect_uri(server.server_address[1])
    verifier, state = generate_token(64), generate_token(32)
    params = {
        "response_type": "code", "client_id": client.client_id, "redirect_uri": redirect,
        "scope": client.scope, "state": state,
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
    }
    announce(f"{client.authorize_url}?{urllib.parse.urlencode(params)}")
    thread = threading.Thread(target=_serve_until_called, args=(server, handler, timeout_s), daemon=True)
    thread.start()
    thread.join(timeout_s + 1)
    server.server_close()
    result = handler.result
    if "code" not in result:
        raise AuthError(f"authorization not completed ({result.get('error', 'no answer in time')})")
    if result.get("state") != state:
        raise AuthError("the redirect's state does not match: refusing the code")
    response = session.post(client.token_url, data={
        "grant_type": "authorization_code", "code": result["code"], "redirect_uri": redirect,
        "code_verifier": verifier, "client_id": client.client_id, "client_secret": client.client_secret,
    })
    if response.status_code != 200:
        raise AuthError(f"the provider refused the code ({response.status_code})")
    body: dict[str, object] = response.json()
    body.update({k: v for k, v in result.items() if k not in ("code", "state")})  # e.g. QuickBooks' realmId
    return body


def _serve_until_called(server: http.server.HTTPServer, handler: type[_Catch], timeout_s: float) -> None:
    server.timeout = 0.5
    deadline = time.monotonic() + timeout_s
    while not handler.result and time.monotonic() < deadline:
        server.handle_request()
