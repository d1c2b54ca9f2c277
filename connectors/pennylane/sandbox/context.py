"""What one running Pennylane sandbox holds: state, limiter, OAuth, faults.

Also the scope catalogue (every scope the Company API v2 knows, so OAuth
clients may ask for any of them) and the authentication of API calls.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.pennylane.sandbox.books import Books
from connectors.pennylane.sandbox.errors import unauthorized
from connectors.sandbox.faults import FaultInjector
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.oauth import AuthorizationServer
from connectors.sandbox.oauth import OAuthConfig
from connectors.sandbox.ratelimit import SlidingWindowLimiter
from connectors.sandbox.state import StateStore

_READ_WRITE = (
    "customer_invoices", "customers", "products", "journals", "ledger_accounts", "ledger_entries",
    "file_attachments", "transactions", "bank_accounts", "billing_subscriptions", "categories",
    "commercial_documents", "customer_mandates", "purchase_requests", "quotes", "supplier_invoices", "suppliers",
)
SCOPES = frozenset(
    [f"{name}:{level}" for name in _READ_WRITE for level in ("readonly", "all")]
    + ["trial_balance:readonly", "fiscal_years:readonly", "customer_invoice_templates:readonly",
       "pa_registrations:readonly", "bank_establishments:readonly", "e_invoices:all", "exports:agl",
       "exports:fec", "exports:gl"]
)
SANDBOX_USER = {"id": 31337, "first_name": "Sandra", "last_name": "Box", "email": "sandbox@example.org",
                "locale": "fr"}


def token_digest(token: str) -> str:
    """How tokens are stored and used as rate-limit keys: never in clear."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated API caller.

    Attributes:
        key: digest of its token (the rate-limit key).
        scopes: what the token grants.
        oauth: True for an OAuth access token, False for a company API token.
    """

    key: str
    scopes: frozenset[str]
    oauth: bool


class Sandbox:
    """The parts of a running sandbox, shared by its routes."""

    def __init__(
        self,
        store: StateStore,
        *,
        rate_limit: tuple[int, float] | None,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        faults: FaultPlan | None,
        enforce_chronology: bool,
        require_pkce: bool,
    ) -> None:
        self.store = store
        self.books = Books(store, wall_clock)
        self.wall_clock = wall_clock
        self.limiter = SlidingWindowLimiter(rate_limit[0], rate_limit[1], clock) if rate_limit else None
        self.fault_counts: Counter[str] = Counter()
        self.injector: FaultInjector | None = None
        self.set_faults(faults)
        self.enforce_chronology = enforce_chronology
        self.oauth = AuthorizationServer(
            lambda: self.store.data["oauth"], OAuthConfig(SCOPES, require_pkce=require_pkce),
            now=wall_clock, on_change=store.save,
        )
        self.stats: Counter[str] = Counter()

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Put a fault plan in force (None: no faults); fault counters accumulate."""
        self.injector = FaultInjector(plan, self.fault_counts) if plan else None

    def save(self) -> None:
        """Persist the state (no-op in memory)."""
        self.store.save()

    def authenticate(self, authorization: str | None) -> Caller:
        """The caller behind an ``Authorization: Bearer`` header.

        Raises:
            ApiError: 401 when the token is missing, unknown, revoked or expired.
        """
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        digest = token_digest(token)
        company_token = self.store.data["company_tokens"].get(digest)
        if company_token is not None:
            return Caller(digest, frozenset(company_token["scopes"]), oauth=False)
        grant = self.oauth.resolve(token)
        if grant is None:
            raise unauthorized()
        return Caller(digest, grant.scopes, oauth=True)

    def add_company_token(self, token: str, scopes: frozenset[str], label: str) -> None:
        """Register a company API token (stored as a digest)."""
        self.store.data["company_tokens"][token_digest(token)] = {
            "scopes": sorted(scopes), "label": label, "created_at": self.books.stamp(),
        }
        self.save()

    def describe(self) -> dict[str, Any]:
        """Runtime settings for ``GET /sandbox/state``."""
        limiter = self.limiter
        return {
            "rate_limit": {"limit": limiter.limit, "window_s": limiter.window_s} if limiter else None,
            "faults": self.injector.plan.describe() if self.injector else None,
            "persistent": self.store.path is not None,
        }
