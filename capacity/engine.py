"""The simulation's machinery: simulated time (a process is a generator that yields the seconds it waits), rate
limits, DynamoDB tables charged by partition, item and quota, and stream shards read as GetRecords reads them."""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import zlib
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

Process = Generator[float, None, None]


@functools.cache
def stable_hash(key: str) -> int:
    return zlib.crc32(key.encode())


class Clock:
    """A minimal process scheduler: a process is a generator that yields the simulated seconds it waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, Process]] = []
        self._count = 0

    def start(self, process: Process, delay: float = 0.0) -> None:
        self._count += 1
        heapq.heappush(self._queue, (self.now + delay, self._count, process))

    def run(self, until: float) -> None:
        while self._queue and self._queue[0][0] <= until:
            self.now, _, process = heapq.heappop(self._queue)
            try:
                delay = next(process)
            except StopIteration:
                continue
            self._count += 1
            heapq.heappush(self._queue, (self.now + delay, self._count, process))
        self.now = until


class Bucket:
    """A rate limit: ``rate`` units a second, at most ``burst`` banked (one second's worth unless told)."""

    __slots__ = ("at", "burst", "level", "rate")

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = rate if burst is None else burst
        self.level = self.burst
        self.at = 0.0

    def available(self, now: float) -> float:
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now
        return self.level


@dataclass
class Table:
    """A DynamoDB table: its quota (its share of it in the slice), its partitions (one per 1,000 write units of its
    warm throughput, keys hashed onto them) and every item's own 1,000 write units a second."""

    name: str
    quota: Bucket
    partitions: list[Bucket]
    scale: float = 1.0  # fleet units per unit charged here
    hot_items: bool = False  # items written many times a second (the aggregates): each held to 1,000 units too
    items: dict[str, Bucket] = field(default_factory=dict)
    units: float = 0.0  # write units spent, in fleet units
    quota_throttles: int = 0
    partition_throttles: int = 0

    def buckets(self, key: str) -> tuple[Bucket, ...]:
        """The key's partition, and for a table of hot items the item itself (an item takes 1,000 write units a
        second whatever its partition; a table whose items are written a few times each never meets that)."""
        partition = self.partitions[stable_hash(key) % len(self.partitions)]
        if not self.hot_items:
            return (partition,)
        item = self.items.get(key)
        if item is None:
            item = self.items[key] = Bucket(self.partitions[0].rate)
        return partition, item


Charge = tuple[Table, str, float]  # table, key, write units


def try_charge(charges: Sequence[Charge], now: float) -> bool:
    """All or nothing: every partition, item and table quota must have the units (one transaction's items)."""
    per_bucket: dict[int, tuple[Bucket, float, Table, bool]] = {}
    for table, key, units in charges:
        for bucket, is_quota in (*((b, False) for b in table.buckets(key)), (table.quota, True)):
            held = per_bucket.get(id(bucket))
            per_bucket[id(bucket)] = (bucket, units + (held[1] if held else 0.0), table, is_quota)
    for bucket, units, table, is_quota in per_bucket.values():
        if bucket.available(now) < units:
            if is_quota:
                table.quota_throttles += 1
            else:
                table.partition_throttles += 1
            return False
    for bucket, units, _, _ in per_bucket.values():
        bucket.level -= units
    for table, _, units in charges:
        table.units += units * table.scale
    return True


def charge_one(table: Table, key: str, units: float, now: float) -> bool:
    """``try_charge`` of a single write (most of them: the StateLambda's conditional writes)."""
    buckets = table.buckets(key)
    if any(bucket.available(now) < units for bucket in buckets):
        table.partition_throttles += 1
        return False
    if table.quota.available(now) < units:
        table.quota_throttles += 1
        return False
    for bucket in buckets:
        bucket.level -= units
    table.quota.level -= units
    table.units += units * table.scale
    return True


@dataclass(eq=False)
class Shard:
    """A stream shard as its readers see it: every record in order, with the time it becomes readable, its size
    and its kind (a mapping's filter keeps some kinds and drops the rest, after reading them)."""

    times: list[float] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def append(self, at: float, record: Any, size: int, kind: str) -> None:
        """A record readable from ``at`` on (in time order: one readable later than the last goes after it; none
        is ever readable earlier than what a reader has read, so no reader's position moves)."""
        if not self.times or self.times[-1] <= at:
            self.times.append(at)
            self.records.append(record)
            self.sizes.append(size)
            self.kinds.append(kind)
            return
        i = bisect.bisect_right(self.times, at)
        self.times.insert(i, at)
        self.records.insert(i, record)
        self.sizes.insert(i, size)
        self.kinds.insert(i, kind)

    def readable(self, now: float, start: int) -> int:
        """The index after the last record readable at ``now`` (records are appended in time order)."""
        end = len(self.times)
        if end == start or self.times[end - 1] <= now:
            return end
        return bisect.bisect_right(self.times, now, start, end)


@dataclass(eq=False)
class Lane:
    """What one concurrent batch of a mapping has to invoke with, in order, with the time each record was read."""

    records: list[Any] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def append(self, at: float, record: Any) -> None:
        self.records.append(record)
        self.times.append(at)


class Counted:
    """Events in time order, each with a count: how many happened by a given time."""

    def __init__(self, events: Sequence[tuple[float, float]]) -> None:
        ordered = sorted(events)
        self.times = [t for t, _ in ordered]
        self.totals = list(itertools.accumulate(n for _, n in ordered))

    def by(self, t: float) -> float:
        i = bisect.bisect_right(self.times, t)
        return self.totals[i - 1] if i else 0.0
