"""What one running QuickBooks sandbox holds: state, OAuth, limits, faults, counters.

Authentication of an API call: an ``Authorization: Bearer`` access token
(401, code 3200, when missing, unknown, revoked or expired), issued for the
company in the URL and granting ``com.intuit.quickbooks.accounting`` (403,
code 3100, otherwise).

Limits, per company (realm), as QuickBooks documents them (reference §3.7):

- 500 requests per sliding minute (``rate_limit``), of which at most 40
  batch requests (``batch_rate_limit``) -> 429, code 3001;
- at most 10 requests in flight at once (``concurrency``) -> 429, code 3001.
  A request is in flight from the moment it is authenticated until its
  answer is ready, so a client slow to send its body holds its slot.

Refused requests do not count against the window. The 429 carries no
``Retry-After`` (QuickBooks documents none; it asks to wait 60 s).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from collections import Counter
from collections.abc import Callable
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import iso_stamp
from connectors.quickbooks.sandbox.company import Edition
from connectors.quickbooks.sandbox.company import new_realm
from connectors.sandbox.faults import Fault
from connectors.sandbox.faults import FaultInjector
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.oauth import AuthorizationServer
from connectors.sandbox.oauth import AuthorizeFailure
from connectors.sandbox.oauth import OAuthConfig
from connectors.sandbox.oauth import OAuthError
from connectors.sandbox.ratelimit import SlidingWindowLimiter
from connectors.sandbox.state import StateStore

__all__ = ["ACCESS_TTL_S", "ACCOUNTING_SCOPE", "REFRESH_TTL_S", "SCOPES", "Sandbox", "intuit_token"]

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
SCOPES = frozenset({ACCOUNTING_SCOPE, "com.intuit.quickbooks.payment", "openid", "profile", "email", "phone",
                    "address"})
ACCESS_TTL_S = 3600
REFRESH_TTL_S = 8_726_400  # 101 days, what live token answers show
_SANDBOX_REDIRECT = "http://127.0.0.1/sandbox/callback"
# Batch items draw their faults from a second generator, so the faults of
# whole requests stay exactly those ``preview(plan, n)`` predicts.
_ITEM_SEED_OFFSET = 7919


def intuit_token(answer: dict[str, Any]) -> dict[str, Any]:
    """The foundation's token answer in Intuit's shape."""
    return {"token_type": "bearer", "access_token": answer["access_token"], "expires_in": answer["expires_in"],
            "refresh_token": answer["refresh_token"], "x_refresh_token_expires_in": REFRESH_TTL_S}


class Sandbox:
    """The parts of a running sandbox, shared by its routes."""

    def __init__(
        self,
        store: StateStore,
        *,
        rate_limit: tuple[int, float] | None,
        batch_rate_limit: tuple[int, float] | None,
        concurrency: int | None,
        batch_max: int,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        faults: FaultPlan | None,
        require_pkce: bool,
    ) -> None:
        self.store = store
        self.wall_clock = wall_clock
        self.limiter = SlidingWindowLimiter(rate_limit[0], rate_limit[1], clock) if rate_limit else None
        self.batch_limiter = (SlidingWindowLimiter(batch_rate_limit[0], batch_rate_limit[1], clock)
                              if batch_rate_limit else None)
        self.concurrency = concurrency
        self.batch_max = batch_max
        self.inflight: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.fault_counts: Counter[str] = Counter()
        self.item_fault_counts: Counter[str] = Counter()
        self.injector: FaultInjector | None = None
        self.item_injector: FaultInjector | None = None
        self.set_faults(faults)
        config = OAuthConfig(SCOPES, access_ttl_s=ACCESS_TTL_S, refresh_ttl_s=REFRESH_TTL_S,
                             require_pkce=require_pkce, revoke_access_on_refresh=False)
        self.oauth = AuthorizationServer(lambda: self.store.data["oauth"], config, now=wall_clock,
                                         on_change=store.save)

    # -- state ---------------------------------------------------------------------------

    def save(self) -> None:
        """Persist the state (no-op in memory)."""
        self.store.save()

    def stamp(self, *, millis: bool = False) -> str:
        """Now, Intuit style (``time`` of every answer)."""
        return iso_stamp(self.wall_clock(), millis=millis)

    def books(self, realm_id: str) -> Books | None:
        """The books of a company, None when it does not exist."""
        realm = self.store.data["realms"].get(realm_id)
        return Books(realm, self.wall_clock) if realm is not None else None

    def create_company(self, edition: Edition, name: str | None = None, realm_id: str | None = None) -> Books:
        """Add a company; returns its books.

        Raises:
            ValueError: when ``realm_id`` is taken or not digits.
        """
        realm = new_realm(self.store.data, edition, self.stamp(), name=name, realm_id=realm_id)
        self.save()
        return Books(realm, self.wall_clock)

    # -- faults --------------------------------------------------------------------------

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Put a fault plan in force (None: no faults); fault counters accumulate."""
        self.injector = FaultInjector(plan, self.fault_counts) if plan else None
        self.item_injector = None
        if plan is not None:
            rates = tuple((kind, rate) for kind, rate in plan.rates if kind in ("429", "5xx"))
            item_plan = dataclasses.replace(plan, seed=plan.seed + _ITEM_SEED_OFFSET, rates=rates)
            if any(rate > Decimal(0) for _, rate in rates):
                self.item_injector = FaultInjector(item_plan, self.item_fault_counts)

    def item_fault(self) -> Fault | None:
        """The fault of the next batch item (429 or 5xx only), or None."""
        return self.item_injector.next_fault() if self.item_injector else None

    # -- authentication and limits ---------------------------------------------------------

    def authenticate(self, realm_id: str, authorization: str | None) -> Books:
        """The books an API call may use.

        Raises:
            QboError: 401 (3200) for a bad token, 403 (3100) for another
                company or a token without the accounting scope.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise errors.unauthorized("Token missing: send Authorization: Bearer <access token>")
        grant = self.oauth.resolve(token.strip())
        if grant is None:
            raise errors.unauthorized("Token expired or invalid: refresh it, or authorize again")
        if ACCOUNTING_SCOPE not in grant.scopes:
            raise errors.forbidden(f"the token does not grant {ACCOUNTING_SCOPE}")
        books = self.books(realm_id)
        if grant.subject != realm_id or books is None:
            raise errors.forbidden(f"the token was not issued for company {realm_id}")
        return books

    def throttle(self, realm_id: str, *, batch: bool) -> None:
        """Count one request against the company's windows.

        Raises:
            QboError: 429 (3001) when a window is full.
        """
        if self.limiter is not None and not self.limiter.peek(realm_id).allowed:
            self.stats["rate_limited"] += 1
            raise errors.throttled()
        if batch and self.batch_limiter is not None and not self.batch_limiter.hit(realm_id).allowed:
            self.stats["rate_limited"] += 1
            raise errors.throttled("The batch request limit was reached.  Try again later")
        if self.limiter is not None:
            self.limiter.hit(realm_id)

    def acquire(self, realm_id: str) -> bool:
        """Take one of the company's in-flight slots; False when all are taken."""
        if self.concurrency is not None and self.inflight[realm_id] >= self.concurrency:
            self.stats["concurrency_limited"] += 1
            return False
        self.inflight[realm_id] += 1
        return True

    def release(self, realm_id: str) -> None:
        """Give a slot back."""
        self.inflight[realm_id] -= 1
        if not self.inflight[realm_id]:
            del self.inflight[realm_id]

    # -- OAuth helpers -------------------------------------------------------------------------

    def choose_realm(self, params: Mapping[str, str]) -> str | OAuthError:
        """The company an authorization request grants: ``realm_id`` or the default one."""
        realm_id = params.get("realm_id") or self.store.data["default_realm"]
        if not realm_id or realm_id not in self.store.data["realms"]:
            return OAuthError("invalid_request", f"unknown realm_id {realm_id!r}: create the company first")
        return str(realm_id)

    def mint_tokens(self, realm_id: str, scopes: tuple[str, ...] = (ACCOUNTING_SCOPE,)) -> dict[str, Any]:
        """A client and a token pair for a company, through the real code flow.

        Raises:
            ValueError: for an unknown scope.
        """
        client_id, secret = self.oauth.register_client([_SANDBOX_REDIRECT])
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        checked = self.oauth.check_authorize({
            "client_id": client_id, "redirect_uri": _SANDBOX_REDIRECT, "response_type": "code",
            "scope": " ".join(scopes), "code_challenge": challenge, "code_challenge_method": "S256"})
        if isinstance(checked, AuthorizeFailure):
            raise ValueError(checked.error.description)
        code = self.oauth.issue_code(checked, realm_id)
        answer = self.oauth.token({"grant_type": "authorization_code", "code": code, "redirect_uri": _SANDBOX_REDIRECT,
                                   "code_verifier": verifier, "client_id": client_id, "client_secret": secret}, None)
        assert not isinstance(answer, OAuthError), answer
        return {**intuit_token(answer), "realmId": realm_id, "client_id": client_id, "client_secret": secret}

    def describe(self) -> dict[str, Any]:
        """Runtime settings for ``GET /sandbox/state``."""

        def window(limiter: SlidingWindowLimiter | None) -> dict[str, Any] | None:
            return {"limit": limiter.limit, "window_s": limiter.window_s} if limiter else None

        return {
            "rate_limit": window(self.limiter), "batch_rate_limit": window(self.batch_limiter),
            "concurrency": self.concurrency, "batch_max": self.batch_max,
            "faults": self.injector.plan.describe() if self.injector else None,
            "persistent": self.store.path is not None,
        }
