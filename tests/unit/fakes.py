"""In-memory collaborators with the same contracts as the data-access classes."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from riskpipe.errors import InvalidChangeError, PartialsGoneError, TransactionConflictError
from riskpipe.models import PoisonRecord, RiskMessage, StoredVersion, WriteOutcome
from riskpipe.numbers import TOO_MANY_DIGITS
from riskpipe.partials import CombineTransaction, Partial, ReduceTransaction
from riskpipe.throttling import ThrottledError


class InMemoryStateStore:
    """Keeps the same rule as the conditional write: only a strictly newer version replaces the item."""

    def __init__(self, failing_trades: dict[str, Exception] | None = None, throttled_writes: int = 0) -> None:
        self.items: dict[str, RiskMessage] = {}
        self.writes: list[RiskMessage] = []
        self.failing_trades = failing_trades or {}
        self.throttled_writes = throttled_writes  # the next writes refused for throughput (a burst)

    def put_if_newer(self, message: RiskMessage) -> StoredVersion:
        self.writes.append(message)
        if self.throttled_writes > 0:
            self.throttled_writes -= 1
            raise ThrottledError(f"throttled writing {message.TradeID}")
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


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class InMemoryPartialTable:
    """The PartialTable and the AggregateTable in memory, with the rules of the reduce's and the combining lanes'
    transactions: every delete's partial still there and the combined key not yet used, or nothing is written."""

    def __init__(self, *partials: Partial, conflicts: int = 0, fail: Exception | None = None) -> None:
        self.partials: dict[str, Partial] = {p.partial_id: p for p in partials}
        self.aggregates: dict[str, Decimal] = defaultdict(Decimal)
        self.transactions: list[ReduceTransaction | CombineTransaction] = []
        self.conflicts = conflicts  # the next transactions cancelled by concurrent ones
        self.fail = fail  # every transaction raises it
        self.refused: set[str] = set()  # partials whose sums DynamoDB refuses in any transaction

    def apply(self, transaction: ReduceTransaction | CombineTransaction) -> None:
        assert transaction.items <= 100
        if self.conflicts:
            self.conflicts -= 1
            raise TransactionConflictError("conflict")
        if self.fail is not None:
            raise self.fail
        if self.refused & set(transaction.partial_ids):
            raise InvalidChangeError(TOO_MANY_DIGITS)
        gone = set(transaction.partial_ids) - set(self.partials)
        if gone:
            raise PartialsGoneError(gone)
        if isinstance(transaction, CombineTransaction):
            assert transaction.combined.partial_id not in self.partials, "a combined key written twice"
            self.partials[transaction.combined.partial_id] = transaction.combined
        else:
            for identifier, delta in transaction.deltas.items():
                self.aggregates[identifier] += delta
        for partial_id in transaction.partial_ids:
            del self.partials[partial_id]
        self.transactions.append(transaction)
