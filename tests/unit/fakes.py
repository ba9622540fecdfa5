"""In-memory collaborators with the same contracts as the data-access classes."""

from __future__ import annotations

from riskpipe.models import RiskMessage, StoredVersion, WriteOutcome
from riskpipe.poison import PoisonRecord


class InMemoryStateStore:
    """Keeps the same rule as the conditional write: only a strictly newer version replaces the item."""

    def __init__(self, failing_trades: dict[str, Exception] | None = None) -> None:
        self.items: dict[str, RiskMessage] = {}
        self.writes: list[RiskMessage] = []
        self.failing_trades = failing_trades or {}

    def put_if_newer(self, message: RiskMessage) -> StoredVersion:
        self.writes.append(message)
        if message.TradeID in self.failing_trades:
            raise self.failing_trades[message.TradeID]
        current = self.items.get(message.TradeID)
        if current is None or current.Version < message.Version:
            self.items[message.TradeID] = message
            return StoredVersion(outcome=WriteOutcome.ACCEPTED, stored_version=message.Version)
        outcome = WriteOutcome.DUPLICATE if current.Version == message.Version else WriteOutcome.STALE
        return StoredVersion(outcome=outcome, stored_version=current.Version)


class ListSink[T]:
    """A queue in memory (poison records, set-aside changes); ``fail``: every send raises it."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.records: list[T] = []
        self.fail = fail

    def send(self, record: T) -> None:
        if self.fail:
            raise self.fail
        self.records.append(record)


ListPoisonSink = ListSink[PoisonRecord]
