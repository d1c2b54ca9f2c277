"""Provider-independent foundation of the local provider sandboxes.

Each provider sandbox (``connectors.pennylane.sandbox``,
``connectors.quickbooks.sandbox``) is a Starlette app built from these parts:

- ``faults``: seeded fault plans (``SEED:PLAN``) and the ASGI middleware that
  applies them (429 bursts, 5xx, slow answers, drop-after-commit);
- ``ratelimit``: a sliding-window limiter with an injectable clock;
- ``state``: the JSON state, kept atomically in an owner-only file or in memory;
- ``schema``: a small validator for request bodies;
- ``oauth``: an OAuth 2.0 authorization server (code + PKCE, rotating refresh
  tokens, revocation);
- ``server``: ``serve`` and ``running``, which bind 127.0.0.1 only.
"""

from connectors.sandbox.faults import Fault
from connectors.sandbox.faults import FaultInjector
from connectors.sandbox.faults import FaultMiddleware
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.faults import parse_fault_plan
from connectors.sandbox.ratelimit import RateDecision
from connectors.sandbox.ratelimit import SlidingWindowLimiter
from connectors.sandbox.server import running
from connectors.sandbox.server import serve
from connectors.sandbox.state import StateStore

__all__ = [
    "Fault",
    "FaultInjector",
    "FaultMiddleware",
    "FaultPlan",
    "RateDecision",
    "SlidingWindowLimiter",
    "StateStore",
    "parse_fault_plan",
    "running",
    "serve",
]
