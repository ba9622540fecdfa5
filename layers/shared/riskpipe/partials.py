"""Pure planning of the Map/Reduce aggregate stage: no aggregate item is touched in the parallel part.

* **Map** (any number of lanes): for a sub-batch of StateTable changes, the per-trade applied-version markers
  (as today's aggregate transaction writes them) plus ONE partial-result item: the sub-batch's deltas per
  prefix and its message count. A transaction holds 100 items, so a map sub-batch holds at most 99 trades,
  whatever their hierarchies (the deltas are one item however many prefixes they touch).
* **Combine** (optional, any number of lanes, ``plan_combine``): up to 99 partials of the map turned into ONE
  combined partial, in one transaction: the partials deleted under ``attribute_exists``, the combined partial put
  under ``attribute_not_exists`` with a key derived from the first deleted partial's key (``combined_key``) and
  marked as combined, into the table the reducer reads (the map's partials are in a table of their own then).
* **Reduce** (one lane): many partials summed per ``Identifier`` (``message_count`` included), plus a delete
  of each partial under ``attribute_exists``, in transactions of at most 100 items. A partial delivered again
  fails its delete condition: the reducer drops it and applies the rest.

A partial's key is the trade and first version of the sub-batch's first change. The same transaction
advances that trade's marker past that version, and a marker only moves forward, so no two committed map
transactions can ever use the same key: a redelivered or re-cut batch finds the change applied and drops it
before it could reuse the key. A combined partial's key is the first deleted partial's key and a suffix: only
the transaction that deletes that partial writes it, and a partial is deleted once, so it is never written twice
either; a combined partial delivered again to a combining lane (it is not meant to be) would be combined once more
under a key of its own, exactly as a partial of the map.

Where partials are kept (``PartialKeys``): the reducer reads the ReduceTable, whose items all share ONE partition key
(``REDUCE_PARTITION``) with the partial's id as sort key, so that the table is one partition and its stream one shard
(a poller per shard would contend for the one reducer). With the combining level on, the map's partials go to the
PartialTable first, keyed by the partial's id (spread over its partitions, for any number of combining lanes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from riskpipe.aggregation import TRANSACT_MAX_ITEMS, SubBatch, TradeChain, TradeChange
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.numbers import DYNAMODB_ARITHMETIC

PARTIAL_KEY_SEPARATOR = "#"
# A combined partial's key: the key of the first partial it deleted, then this. A map partial's key ends with its
# version's digits, so no map key ends so (a prefix such as "C#" would not do: trade "C#A" at version 0 has the map
# key "C#A#0", the combined key of partial "A#0"), and the suffix is added once per level, so no two keys meet.
COMBINED_KEY_SUFFIX = "#combined"
# The ReduceTable's one partition key: every partial there under it, its id as sort key.
REDUCE_PARTITION = "partials"


@dataclass(frozen=True)
class PartialKeys:
    """How a table of partials keys its items: by the partial's id (``pk``: the PartialTable, spread over its
    partitions), or under ONE partition key with the id as sort key (``pk`` = ``REDUCE_PARTITION``, ``sk``: the
    ReduceTable, one partition)."""

    one_partition: bool

    def key(self, partial_id: str) -> dict[str, Any]:
        """A partial's key in DynamoDB's typed form."""
        if self.one_partition:
            return {"pk": {"S": REDUCE_PARTITION}, "sk": {"S": partial_id}}
        return {"pk": {"S": partial_id}}

    @classmethod
    def of_map(cls, combining: bool) -> PartialKeys:
        """Where the map puts its partials: the PartialTable with the combining level on, else the ReduceTable."""
        return BY_PARTIAL if combining else ONE_PARTITION


BY_PARTIAL = PartialKeys(one_partition=False)  # the PartialTable
ONE_PARTITION = PartialKeys(one_partition=True)  # the ReduceTable


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

    @classmethod
    def merged(cls, stamps: Iterable[Timestamps | None]) -> Timestamps | None:
        """The Timestamps of the messages of several partials together (those that carry none left out)."""
        known = [t for t in stamps if t is not None]
        if not known:
            return None
        with localcontext(DYNAMODB_ARITHMETIC):
            total = sum((t.total for t in known), Decimal(0))
        return cls(min(t.earliest for t in known), max(t.latest for t in known), total, sum(t.count for t in known))


@dataclass(frozen=True)
class Partial:
    """One map transaction's result: deltas per prefix (zeros left out) and the changes it counted."""

    partial_id: str
    deltas: Mapping[str, Decimal]
    message_count: int
    timestamps: Timestamps | None = None
    combined: bool = False  # written by a combining lane (``plan_combine``): for the reducer only

    def identifiers(self) -> set[str]:
        """The AggregateTable items this partial moves (``message_count`` always)."""
        return {*self.deltas, MESSAGE_COUNT_ID}

    @classmethod
    def from_image(cls, image: Mapping[str, Any]) -> Partial:
        """From a partial's item as the stream delivers it or a scan reads it (deserialised: numbers as Decimal), in
        either table: its id is the sort key ``sk`` where the table has one (the ReduceTable's), else ``pk``."""
        stamps = None
        if "TimestampMin" in image:
            stamps = Timestamps(
                Decimal(str(image["TimestampMin"])),
                Decimal(str(image["TimestampMax"])),
                Decimal(str(image["TimestampSum"])),
                int(image["TimestampCount"]),
            )
        return cls(
            partial_id=str(image["sk"] if "sk" in image else image["pk"]),
            deltas={str(k): Decimal(str(v)) for k, v in dict(image.get("Deltas", {})).items()},
            message_count=int(image["MessageCount"]),
            timestamps=stamps,
            combined=bool(image.get("Combined", False)),
        )

    def to_item(self, keys: PartialKeys) -> dict[str, Any]:
        """The partial's item in a table keyed by ``keys``, in DynamoDB's typed form: what ``from_image`` reads
        back."""
        item: dict[str, Any] = {
            **keys.key(self.partial_id),
            "Deltas": {"M": {k: {"N": str(v)} for k, v in sorted(self.deltas.items())}},
            "MessageCount": {"N": str(self.message_count)},
        }
        if self.timestamps is not None:  # the reduce reports end-to-end latency from them
            stamps = self.timestamps
            item["TimestampMin"] = {"N": str(stamps.earliest)}
            item["TimestampMax"] = {"N": str(stamps.latest)}
            item["TimestampSum"] = {"N": str(stamps.total)}
            item["TimestampCount"] = {"N": str(stamps.count)}
        # Whether a combining lane wrote it (the partial's own record: each table's stream has one consumer, whose
        # filter takes every INSERT).
        item["Combined"] = {"BOOL": self.combined}
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

    @property
    def messages(self) -> int:
        """The trade changes this transaction applies to the aggregates."""
        return int(self.deltas.get(MESSAGE_COUNT_ID, 0))


def _reduce_transaction(partials: Sequence[Partial]) -> ReduceTransaction:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(DYNAMODB_ARITHMETIC):  # DynamoDB's exact arithmetic: a sum it cannot store raises here
        for partial in partials:
            for identifier, delta in partial.deltas.items():
                totals[identifier] += delta
            totals[MESSAGE_COUNT_ID] += partial.message_count
    deltas = {k: v for k, v in totals.items() if v != 0 or k == MESSAGE_COUNT_ID}
    return ReduceTransaction(deltas=deltas, partial_ids=tuple(p.partial_id for p in partials))


def _consecutive_groups(partials: Iterable[Partial], fits: Callable[[int, set[str]], bool]) -> list[list[Partial]]:
    """Consecutive partials, each once (a transaction touches an item once, and a later delivery of a partial is
    refused by its delete's condition anyway), cut into groups: a partial joins the current group while ``fits``
    (the group's partials with it, the union of their identifiers), else starts the next one."""
    groups: list[list[Partial]] = []
    identifiers: set[str] = set()
    seen: set[str] = set()
    for partial in partials:
        if partial.partial_id in seen:
            continue
        seen.add(partial.partial_id)
        wanted = identifiers | partial.identifiers()
        if not groups or not fits(len(groups[-1]) + 1, wanted):
            groups.append([])
            wanted = partial.identifiers()
        groups[-1].append(partial)
        identifiers = wanted
    return groups


def plan_reduce(partials: Iterable[Partial], *, max_items: int = TRANSACT_MAX_ITEMS) -> list[ReduceTransaction]:
    """Consecutive partials summed into transactions of at most ``max_items`` items (the union of their
    identifiers plus one delete per partial). A partial seen twice is planned once."""
    listed = list(partials)
    for partial in listed:
        if len(partial.identifiers()) + 1 > max_items:
            raise ValueError(f"partial {partial.partial_id} alone needs more than {max_items} transaction items")
    groups = _consecutive_groups(listed, lambda count, identifiers: len(identifiers) + count <= max_items)
    return [_reduce_transaction(group) for group in groups]


def without_partials(
    transaction: ReduceTransaction, partials: Sequence[Partial], gone: Iterable[str]
) -> ReduceTransaction | None:
    """The same transaction re-planned without the partials whose delete condition failed (already applied);
    None when nothing is left. ``partials`` are the ones the transaction was planned from."""
    kept = _kept(transaction.partial_ids, partials, gone)  # a partial delivered twice is kept once
    return _reduce_transaction(kept) if kept else None


def _kept(partial_ids: Sequence[str], partials: Sequence[Partial], gone: Iterable[str]) -> list[Partial]:
    """The partials of a planned transaction (``partial_ids``) that are not ``gone``, once each, in order."""
    planned, dropped = set(partial_ids), set(gone)
    kept: dict[str, Partial] = {}
    for p in partials:
        if p.partial_id in planned and p.partial_id not in dropped:
            kept.setdefault(p.partial_id, p)
    return list(kept.values())


def combined_key(partial_id: str) -> str:
    """The key of the combined partial whose first deleted partial is ``partial_id``."""
    return f"{partial_id}{COMBINED_KEY_SUFFIX}"


def combine(partials: Sequence[Partial]) -> Partial:
    """Partials summed into ONE combined partial (DynamoDB's exact arithmetic: a sum it cannot store raises here),
    keyed by the first one's key, marked as combined; zero deltas left out, counts and Timestamps merged."""
    if not partials:
        raise ValueError("nothing to combine")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(DYNAMODB_ARITHMETIC):
        for partial in partials:
            for identifier, delta in partial.deltas.items():
                totals[identifier] += delta
    return Partial(
        partial_id=combined_key(partials[0].partial_id),
        deltas={k: v for k, v in totals.items() if v != 0},
        message_count=sum(p.message_count for p in partials),
        timestamps=Timestamps.merged(p.timestamps for p in partials),
        combined=True,
    )


@dataclass(frozen=True)
class CombineTransaction:
    """A combining lane's transaction: the partials deleted under ``attribute_exists`` (``partial_ids``, the first
    one's key naming the result) and the ``combined`` partial put under ``attribute_not_exists``."""

    combined: Partial
    partial_ids: tuple[str, ...]

    @property
    def items(self) -> int:
        return len(self.partial_ids) + 1

    @property
    def messages(self) -> int:
        """The trade changes the combined partial stands for."""
        return self.combined.message_count


def _combine_transaction(partials: Sequence[Partial]) -> CombineTransaction:
    return CombineTransaction(combine(partials), tuple(p.partial_id for p in partials))


def plan_combine(
    partials: Iterable[Partial], *, max_items: int = TRANSACT_MAX_ITEMS, reduce_items: int = TRANSACT_MAX_ITEMS
) -> list[CombineTransaction]:
    """Consecutive partials turned into combined partials, each in a transaction of at most ``max_items`` items:
    at most ``max_items - 1`` partials deleted and the one combined partial put. A combined partial also keeps the
    union of its identifiers (``message_count`` included) within ``reduce_items - 1`` (a reduce transaction's items
    less its delete), so that the reducer can always apply it, alone if need be; a partial that alone exceeds that
    is combined alone (no worse than itself). A partial seen twice is planned once (a transaction touches an item
    once)."""
    if max_items < 2:
        raise ValueError("a combine transaction needs room for a delete and the combined partial")
    room, reducible = max_items - 1, reduce_items - 1
    groups = _consecutive_groups(partials, lambda count, identifiers: count <= room and len(identifiers) <= reducible)
    return [_combine_transaction(group) for group in groups]


def combine_without(
    transaction: CombineTransaction, partials: Sequence[Partial], gone: Iterable[str]
) -> CombineTransaction | None:
    """The same transaction re-planned without the partials whose delete condition failed (combined or applied
    before): the combined partial then takes its key from the first partial left; None when nothing is left.
    ``partials`` are the ones the transaction was planned from."""
    kept = _kept(transaction.partial_ids, partials, gone)
    return _combine_transaction(kept) if kept else None


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
