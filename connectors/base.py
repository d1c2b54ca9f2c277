"""The contract between the replay loop and a provider's connector.

The replay loop (``connectors.replay``) owns ordering, the per-transaction
replay state, retries, progress and the summary. A connector owns everything
provider-specific for one local transaction: it maps it to API payloads
(purely, in its ``mapping`` module) and makes the remote side hold exactly one
copy of it, looking up first when a previous attempt's outcome is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import Literal, Protocol

from engine.journal import LedgerTxn

from .errors import ConnectorError

Outcome = Literal["sent", "exists", "skipped"]


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push achieved: ``sent`` (created now), ``exists`` (found on the
    remote under the item's key), ``skipped`` (nothing to send for this
    transaction on this provider)."""

    outcome: Outcome
    remote_id: str = ""


class Connector(Protocol):
    provider: str

    def describe(self, txn: LedgerTxn) -> list[str]:
        """What pushing ``txn`` would send, one line per request (dry run, no I/O)."""

    def push(self, txn: LedgerTxn, key: str, uncertain: bool) -> PushResult:
        """Make the remote hold ``txn`` exactly once.

        ``key`` is the idempotency key persisted before the first attempt;
        ``uncertain`` is true when an earlier attempt may have reached the
        provider, in which case the remote must be searched by business key
        before anything is created.

        Raises:
            TransientError, RateLimited: retry later.
            AuthError: stop; credentials must be renewed.
            PermanentError, ConflictError: this item failed; go on with others.
        """

    def close(self) -> None:
        """Release the HTTP client."""


class BatchConnector(Connector, Protocol):
    """A connector that can also push many transactions at once (optional).

    The replay loop uses ``push_many`` when ``window`` is above 1, handing
    over up to ``window`` consecutive transactions in ledger order.
    """

    window: int

    def push_many(self, work: Sequence[tuple[LedgerTxn, str, bool]]) -> list[PushResult | ConnectorError]:
        """Make the remote hold each ``(txn, key, uncertain)`` exactly once.

        Returns one outcome per item, in order: its ``PushResult``, or the
        error it ended with (same meaning as ``push``'s exceptions; a
        ``Deferred`` item was not sent at all). A later item that depends on
        an earlier one (a payment on its invoice) is sent after it.
        """
