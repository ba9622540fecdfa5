"""Pure planning of the Map/Reduce aggregate stage: no aggregate item is touched in the parallel part.

* **Map** (any number of lanes): for a sub-batch of StateTable changes, the per-trade applied-version markers
  (as today's aggregate transaction writes them) plus ONE partial-result item: the sub-batch's deltas per
  prefix and its message count. A transaction holds 100 items, so a map sub-batch holds at most 99 trades,
  whatever their hierarchies (the deltas are one item however many prefixes they touch).
* **Reduce** (one lane): many partials summed per ``Identifier`` (``message_count`` included), plus a delete
  of each partial under ``attribute_exists``, in transactions of at most 100 items. A partial delivered again
  fails its delete condition: the reducer drops it and applies the rest.

A partial's key is the trade and first version of the sub-batch's first change. The same transaction
advances that trade's marker past that version, and a marker only moves forward, so no two committed map
transactions can ever use the same key: a redelivered or re-cut batch finds the change applied and drops it
before it could reuse the key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from riskpipe.aggregation import TRANSACT_MAX_ITEMS, SubBatch, TradeChain, TradeChange
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.numbers import DYNAMODB_ARITHMETIC

PARTIAL_KEY_SEPARATOR = "#"


@dataclass(frozen=True)
class Timestamps:
    """The earliest, latest and sum of a partial's messages' Timestamps (epoch seconds), for end-to-end latency."""

    earliest: Decimal
    latest: Decimal
    total: Decimal
    count: int

    @classmethod
    def of(cls, stamps: Sequence[Decimal]) -> Timestamps | None:
        if not stamps:
            return None
        with localcontext(DYNAMODB_ARITHMETIC):  # stored as a DynamoDB number: exact, or refused
            return cls(min(stamps), max(stamps), sum(stamps, Decimal(0)), len(stamps))


@dataclass(frozen=True)
class Partial:
    """One map transaction's result: deltas per prefix (zeros left out) and the changes it counted."""

    partial_id: str
    deltas: Mapping[str, Decimal]
    message_count: int
    timestamps: Timestamps | None = None

    def identifiers(self) -> set[str]:
        """The AggregateTable items this partial moves (``message_count`` always)."""
        return {*self.deltas, MESSAGE_COUNT_ID}

    @classmethod
    def from_image(cls, image: Mapping[str, Any]) -> Partial:
        """From a partial-table item as the stream delivers it (deserialised: numbers as Decimal)."""
        stamps = None
        if "TimestampMin" in image:
            stamps = Timestamps(
                Decimal(str(image["TimestampMin"])),
                Decimal(str(image["TimestampMax"])),
                Decimal(str(image["TimestampSum"])),
                int(image["TimestampCount"]),
            )
        return cls(
            partial_id=str(image["pk"]),
            deltas={str(k): Decimal(str(v)) for k, v in dict(image.get("Deltas", {})).items()},
            message_count=int(image["MessageCount"]),
            timestamps=stamps,
        )

    def to_item(self) -> dict[str, Any]:
        """The partial-table item, in DynamoDB's typed form: what ``from_image`` reads back."""
        item: dict[str, Any] = {
            "pk": {"S": self.partial_id},
            "Deltas": {"M": {k: {"N": str(v)} for k, v in sorted(self.deltas.items())}},
            "MessageCount": {"N": str(self.message_count)},
        }
        if self.timestamps is not None:  # the reduce reports end-to-end latency from them
            stamps = self.timestamps
            item["TimestampMin"] = {"N": str(stamps.earliest)}
            item["TimestampMax"] = {"N": str(stamps.latest)}
            item["TimestampSum"] = {"N": str(stamps.total)}
            item["TimestampCount"] = {"N": str(stamps.count)}
        return item


def partial_of(batch: SubBatch) -> Partial:
    """The partial a map sub-batch writes, keyed by its first change's trade and version."""
    first = batch.chains[0]
    return Partial(
        partial_id=f"{first.trade_id}{PARTIAL_KEY_SEPARATOR}{first.first_version}",
        deltas=batch.deltas(),
        message_count=batch.message_count,
        timestamps=Timestamps.of(batch.timestamps),
    )


def map_items(batch: SubBatch) -> int:
    """Transaction items of a map sub-batch: one marker per trade, one partial."""
    return len(batch.chains) + 1


def plan_map(
    changes: Sequence[TradeChange], order: Sequence[str], *, max_items: int = TRANSACT_MAX_ITEMS
) -> list[SubBatch]:
    """Group a batch's applicable changes by trade (first appearance order) into map sub-batches of at most
    ``max_items - 1`` trades; each one becomes a transaction of its markers and ``partial_of(sub_batch)``.

    A trade's changes always stay in one sub-batch (its marker is one item whatever its hierarchies), so a
    sub-batch never needs splitting like today's, whose deltas take an item per prefix.
    """
    if max_items < 2:
        raise ValueError("a map transaction needs room for a marker and the partial")
    chains: dict[str, TradeChain] = {}
    for change in changes:
        if change.applies:
            chains.setdefault(change.trade_id, TradeChain(change.trade_id)).changes.append(change)
    trades = list(chains.values())
    per_transaction = max_items - 1
    return [SubBatch(trades[i : i + per_transaction], order) for i in range(0, len(trades), per_transaction)]


@dataclass(frozen=True)
class ReduceTransaction:
    """Aggregate deltas summed over some partials, and the partials to delete under ``attribute_exists``."""

    deltas: Mapping[str, Decimal]  # per Identifier, message_count included
    partial_ids: tuple[str, ...]

    @property
    def items(self) -> int:
        return len(self.deltas) + len(self.partial_ids)


def _reduce_transaction(partials: Sequence[Partial]) -> ReduceTransaction:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(DYNAMODB_ARITHMETIC):  # DynamoDB's exact arithmetic: a sum it cannot store raises here
        for partial in partials:
            for identifier, delta in partial.deltas.items():
                totals[identifier] += delta
            totals[MESSAGE_COUNT_ID] += partial.message_count
    deltas = {k: v for k, v in totals.items() if v != 0 or k == MESSAGE_COUNT_ID}
    return ReduceTransaction(deltas=deltas, partial_ids=tuple(p.partial_id for p in partials))


def plan_reduce(partials: Iterable[Partial], *, max_items: int = TRANSACT_MAX_ITEMS) -> list[ReduceTransaction]:
    """Consecutive partials summed into transactions of at most ``max_items`` items (the union of their
    identifiers plus one delete per partial). A partial seen twice is planned once: one transaction may touch
    an item only once, and a later delivery of it is refused by its delete's condition anyway."""
    transactions: list[ReduceTransaction] = []
    current: list[Partial] = []
    identifiers: set[str] = set()
    seen: set[str] = set()
    for partial in partials:
        if partial.partial_id in seen:
            continue
        seen.add(partial.partial_id)
        wanted = identifiers | partial.identifiers()
        if len(wanted) + 1 > max_items:
            raise ValueError(f"partial {partial.partial_id} alone needs more than {max_items} transaction items")
        if current and len(wanted) + len(current) + 1 > max_items:
            transactions.append(_reduce_transaction(current))
            current, wanted = [], partial.identifiers()
        current.append(partial)
        identifiers = wanted
    if current:
        transactions.append(_reduce_transaction(current))
    return transactions


def without_partials(
    transaction: ReduceTransaction, partials: Sequence[Partial], gone: Iterable[str]
) -> ReduceTransaction | None:
    """The same transaction re-planned without the partials whose delete condition failed (already applied);
    None when nothing is left. ``partials`` are the ones the transaction was planned from."""
    dropped = set(gone)
    kept: dict[str, Partial] = {}  # a partial delivered twice in the batch is planned once: keep it once
    for p in partials:
        if p.partial_id in transaction.partial_ids and p.partial_id not in dropped:
            kept.setdefault(p.partial_id, p)
    return _reduce_transaction(list(kept.values())) if kept else None


@dataclass(frozen=True)
class SetAsidePartial:
    """A partial whose sums DynamoDB refuses to add to the aggregates (a number it cannot store): it never will,
    so it is kept aside with its reason instead of blocking the reduce, and the totals need a reconcile."""

    reason: str
    partial_id: str
    deltas: dict[str, str]
    message_count: int

    @classmethod
    def of(cls, partial: Partial, reason: str) -> SetAsidePartial:
        deltas = {k: str(v) for k, v in partial.deltas.items()}
        return cls(reason=reason, partial_id=partial.partial_id, deltas=deltas, message_count=partial.message_count)


def end_to_end_latency(partials: Iterable[Partial], now: float) -> tuple[float, float] | None:
    """Seconds from the messages' Timestamps to ``now`` (their aggregates applied): the largest (from the earliest
    Timestamp) and the mean over every message of these partials; None when none carries Timestamps."""
    stamped = [p.timestamps for p in partials if p.timestamps is not None]
    if not stamped:
        return None
    count = sum(t.count for t in stamped)
    earliest = min(t.earliest for t in stamped)
    mean_stamp = sum((t.total for t in stamped), Decimal(0)) / count
    return now - float(earliest), now - float(mean_stamp)
