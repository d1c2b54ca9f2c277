"""The OAuth 2.0 code flow with PKCE against a sandbox, for tests that need real OAuth credentials."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import urllib.parse

import httpx

from connectors.tokens import Credentials, TokenStore


def oauth_credentials(sandbox: str, store: TokenStore, key: str) -> Credentials:
    client = httpx.post(f"{sandbox}/sandbox/oauth_clients", json={"redirect_uris": ["http://127.0.0.1:1/cb"]}).json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    r = httpx.get(f"{sandbox}/oauth/authorize", params={
        "client_id": client["client_id"], "redirect_uri": "http://127.0.0.1:1/cb", "response_type": "code",
        "scope": "customers:all", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
        "auto_approve": "1"})
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["location"]).query))["code"]
    body = httpx.post(f"{sandbox}/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:1/cb",
        "code_verifier": verifier, "client_id": client["client_id"], "client_secret": client["client_secret"]}).json()
    creds = Credentials("oauth", sandbox, body["access_token"], body["refresh_token"], time.time() + 86400,
                        f"{sandbox}/oauth/token", client["client_id"], client["client_secret"])
    store.put(key, creds)
    return creds


