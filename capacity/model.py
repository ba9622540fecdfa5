"""The discrete-event simulation: the pipeline as deployed, in simulated time, for one design and one offered load.

What runs (each a process of simulated time):

* the producer: the workshop's calls at the offered rate, each record onto the shard its key hashes to; a shard
  takes 1,000 records and 1 MB a second, a refused record is re-sent;
* the Kinesis event source mapping: ``shards x ParallelizationFactor`` lanes (records spread over a shard's lanes
  by partition key), polling, BatchSize, the batching window; each invocation pays Lambda's overhead, the
  StateLambda's CPU per record, and its writes: ``riskpipe.versions.newest_per_trade`` (the StateLambda's own
  coalescing) gives one conditional write per trade, in waves of WRITE_CONCURRENCY; a write takes a write unit
  from its partition and from the table's quota, or is throttled (the SDK retries it, then the record is a batch
  item failure and the batch is delivered again from it);
* the StateTable's stream: one shard per table partition, each an event source with its lanes;
* today's aggregate stage: each invocation plans its batch with ``riskpipe.aggregation`` (the handler's own
  planning) and applies each sub-batch in one transaction (markers, deltas, ``message_count``);
* the new design: the map plans with ``riskpipe.partials.plan_map`` (markers plus one partial), the reduce
  (one at a time) reads the partial table's stream and applies ``riskpipe.partials.plan_reduce``'s transactions.

A transaction holds every item it touches for its duration; one that finds an item held is cancelled
(TransactionConflict) and retried with the aggregate service's backoff, then its records are reported failed and
delivered again. An item takes 1,000 write units a second (a transaction item costs 2), a partition 1,000, a
table its quota. A Lambda invocation needs a free unit of the account's concurrency.

The fleet is simulated through a slice: ``slice_shards`` Kinesis shards and their share of the StateTable
partitions, with their share of every table and account quota. Everything that one shard's traffic does not
share with another (the state lanes, the StateTable partitions and stream shards, the map lanes and their
markers) behaves alike in every slice. What the whole fleet shares is simulated whole: in today's design every
aggregate lane of the fleet runs (the lanes outside the slice replay the slice's stream shards under their own
trade names, so their markers are their own and the aggregate items are shared); in the new design every
partial of the fleet reaches the one reducer (each of the slice's partials stands for ``weight`` of them).
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import math
import random
import zlib
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace

from benchmarks.units import item_size, write_units
from capacity.params import Params
from capacity.traffic import Record, WorkshopTraffic
from riskpipe.aggregation import SubBatch, TradeChain, TradeChange, plan_sub_batches, split_repeats
from riskpipe.config import AggregateSettings
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.partials import Partial, ReduceTransaction, partial_of, plan_map, plan_reduce, without_partials
from riskpipe.versions import newest_per_trade

CURRENT = "current"
NEW = "new"
ORDER: tuple[str, ...] = AggregateSettings.model_fields["aggregation_order"].default
TRANSACTION_ITEM_WCU = 2  # a transactional write of an item under 1 KB
BACKLOG_TOLERANCE = 0.05  # of the window's messages: the backlog's rise that still counts as bounded
SAMPLE = 0.05  # s between samples of a backlog
HOT_KEY = ("a", MESSAGE_COUNT_ID)  # the item every aggregate transaction of today's design touches
STOPPED_ASKING = 0.3  # s: a throttled lane that has not asked again for this long has nothing left to invoke
Process = Generator[float, None, None]
UTILISATION_NAMES = {  # design -> (its aggregate-stage lanes, the item every transaction touches)
    CURRENT: ("aggregate lanes", "item message_count"),
    NEW: ("map lanes", "reduce item message_count"),
}


@functools.cache
def stable_hash(key: str) -> int:
    return zlib.crc32(key.encode())


def sdk_backoff(rng: random.Random, attempt: int) -> float:
    """botocore's standard retry mode for a throttled request (``botocore.retries.standard.ExponentialBackoff``,
    throttling base scale 1): rand(0, 1) x min(2 ** (attempt - 1), 20) seconds."""
    return rng.random() * min(2 ** (attempt - 1), 20)


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
    """A rate limit: ``rate`` units a second, at most one second's worth banked."""

    __slots__ = ("at", "level", "rate")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.level = rate
        self.at = 0.0

    def available(self, now: float) -> float:
        self.level = min(self.rate, self.level + (now - self.at) * self.rate)
        self.at = now
        return self.level


@dataclass
class Table:
    """A DynamoDB table: a quota, partitions (or one per item), write units spent (in fleet units)."""

    name: str
    quota: Bucket
    partitions: list[Bucket]
    per_item: bool = False
    scale: int = 1  # fleet units per unit charged here
    items: dict[str, Bucket] = field(default_factory=dict)
    units: float = 0.0
    quota_throttles: int = 0
    partition_throttles: int = 0

    def bucket(self, key: str) -> Bucket:
        if self.per_item:
            if key not in self.items:
                self.items[key] = Bucket(self.partitions[0].rate)
            return self.items[key]
        return self.partitions[stable_hash(key) % len(self.partitions)]


Charge = tuple[Table, str, float]  # table, key, write units


def try_charge(charges: Sequence[Charge], now: float) -> bool:
    """All or nothing: every partition (or item) and every table quota must have the units."""
    if len(charges) == 1:
        return charge_one(*charges[0], now)
    per_bucket: dict[int, tuple[Bucket, float, Table, bool]] = {}
    for table, key, units in charges:
        for bucket, is_quota in ((table.bucket(key), False), (table.quota, True)):
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
    bucket = table.bucket(key)
    if bucket.available(now) < units:
        table.partition_throttles += 1
        return False
    if table.quota.available(now) < units:
        table.quota_throttles += 1
        return False
    bucket.level -= units
    table.quota.level -= units
    table.units += units * table.scale
    return True


@dataclass(eq=False)
class Lane:
    """The records one event source lane reads, in order, with their arrival times."""

    records: list = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def append(self, at: float, record: object) -> None:
        self.records.append(record)
        self.times.append(at)


@dataclass
class Deployment:
    """How the fleet is sized for an offered load, and the slice of it that is simulated."""

    shards: int
    weight: int  # fleet / slice
    state_partitions: int  # fleet
    marker_partitions: int
    partial_partitions: int

    @property
    def slice_shards(self) -> int:
        return self.shards // self.weight

    @property
    def slice_state_partitions(self) -> int:
        return self.state_partitions // self.weight

    @classmethod
    def for_load(cls, load: float, params: Params, record_bytes: float) -> Deployment:
        per_shard = min(params.shard_records_per_second, params.shard_bytes_per_second / record_bytes)
        needed = max(1, math.ceil(load / (per_shard * params.shard_fill)))
        weight = math.ceil(needed / params.slice_shards)
        shards = math.ceil(needed / weight) * weight
        # on-demand: one partition per 1,000 write units of twice the traffic (one write a record at most)
        state = max(1, math.ceil(load / (params.partition_wcu * params.partition_fill) / weight)) * weight
        markers = max(1, math.ceil(TRANSACTION_ITEM_WCU * load / (params.partition_wcu * params.partition_fill)))
        partials = max(1, math.ceil(4 * load / 100 / (params.partition_wcu * params.partition_fill)))
        return cls(shards, weight, state, markers, partials)

    def lanes(self, params: Params, design: str) -> int:
        """Concurrent executions the event source mappings may use at once."""
        state = self.shards * params.state_parallelization
        return state + self.state_partitions * params.aggregate_parallelization + (1 if design == NEW else 0)


@dataclass
class Stats:
    transactions: int = 0  # attempts of aggregate-stage transactions
    committed: int = 0
    conflicts: int = 0
    throttle_retries: int = 0
    already_applied: int = 0
    failed_batches: int = 0
    state_failed_batches: int = 0
    invocation_throttles: int = 0
    put_retries: int = 0
    busy: dict[str, float] = field(default_factory=dict)  # lane kind -> busy seconds (fleet)
    hot_item_busy: float = 0.0
    changes_applied: int = 0  # fleet changes applied to the aggregates in the whole run
    reduce: dict[str, float] = field(default_factory=dict)  # the reducer's invocations, partials, transactions in W

    def add_reduce(self, invocations: int, partials: int, transactions: int) -> None:
        for key, count in (("invocations", invocations), ("partials", partials), ("transactions", transactions)):
            self.reduce[key] = self.reduce.get(key, 0.0) + count

    def add_busy(self, kind: str, seconds: float) -> None:
        self.busy[kind] = self.busy.get(kind, 0.0) + seconds


class MarkedBatch:
    """A sub-batch on its way to the aggregates, and the per-trade markers that tell what of it is applied (the
    condition of every marker item in its transaction: ``attribute_not_exists(pk) OR AppliedVersion < :first``)."""

    def __init__(self, batch: SubBatch, markers: dict[tuple[int, str], int], replica: int) -> None:
        self.batch, self._markers, self._replica = batch, markers, replica

    def already(self) -> dict[str, int]:
        """The trades whose marker refuses the transaction, with the version it holds."""
        return {
            c.trade_id: v
            for c in self.batch.chains
            if (v := self._markers.get((self._replica, c.trade_id), -1)) >= c.first_version
        }

    def drop(self) -> bool:
        """Drop what the markers show applied (as the aggregate service does); whether anything is left."""
        self.batch, _ = self.batch.without_applied(self.already())
        return bool(self.batch.chains)

    def commit(self) -> None:
        for chain in self.batch.chains:
            self._markers[(self._replica, chain.trade_id)] = chain.last_version


@dataclass
class PartialRecord:
    partial: Partial
    covers: list[tuple[str, int]] | None  # (trade, version) made visible; None for the fleet's other copies


@dataclass
class Result:
    design: str
    offered: float
    quotas: str
    throughput: float
    conflicts_per_transaction: float
    retries: int
    failed_batches: int
    p50: float
    p99: float
    p99_censored: bool
    write_units_per_message: float
    write_units_by_table: dict[str, float]
    write_units_total: dict[str, float]
    changes_applied: int
    binds: str
    utilisation: dict[str, float]
    deployment: dict[str, int]
    transactions_per_second: float
    hot_item_transactions_per_second: float
    keeps_up: bool  # the backlog stayed bounded and every message sent in the window became visible
    reduce: dict[str, float]  # the new design's reducer in the window: what it did a second, where its time went
    visible_per_second: float  # messages whose aggregate became visible in the window, a second


class Simulation:
    def __init__(
        self,
        design: str,
        load: float,
        params: Params,
        traffic: WorkshopTraffic,
        *,
        seed: int = 1,
        deployment: Deployment | None = None,
        quotas: str = "default",
        burst: Sequence[Record] | None = None,
    ) -> None:
        if design not in (CURRENT, NEW):
            raise ValueError(f"unknown design {design}")
        self.design, self.load, self.p, self.quotas = design, load, params, quotas
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.stats = Stats()
        self.traffic = traffic
        self.burst = burst
        self.d = deployment or Deployment.for_load(load, params, traffic.record_bytes)
        self.end_of_load = params.load_seconds
        self.window = (params.warm_up, params.load_seconds)
        self.state_table, self.marker_table, self.aggregate_table, self.partial_table = self.build_tables()
        self.tables = [self.state_table, self.marker_table, self.aggregate_table]
        if design == NEW:
            self.tables.append(self.partial_table)
        self.free_slots = float(params.concurrency_quota)
        # lane -> (first refused, last asked), in the order first refused
        self.waiting_lanes: OrderedDict[object, tuple[float, float]] = OrderedDict()
        # the slice
        self.kinesis, self.kinesis_in, self.stream = self.build_slice()
        self.partial_stream = [Lane() for _ in range(self.d.partial_partitions)]
        # state
        self.stored: dict[str, Record] = {}
        self.sequence = 0
        self.locks: dict[tuple, float] = {}
        self.markers: dict[tuple[int, str], int] = {}
        self.deleted: set[str] = set()
        self.visible: dict[str, int] = {}
        self.waiting: dict[str, list[tuple[int, int]]] = {}
        self.sent_at: list[float] = []
        self.emitted_at: list[float] = []  # changes written to the StateTable's stream (the slice)
        self.applied_log: list[tuple[float, float]] = []  # (time, changes applied to the aggregates) for the fleet
        self.decided = 0  # messages the state stage decided (the slice)
        self.decided_at: list[float] = []
        self.done_at: list[float] = []
        self.plans: dict[tuple[int, int, int], tuple[list[SubBatch], dict[str, int], int]] = {}
        self.hot_commits = 0
        self.touched: dict[int, tuple[SubBatch, list[str]]] = {}
        self.failures: dict[int, tuple[SubBatch, frozenset[str], int]] = {}

    def build_tables(self) -> tuple[Table, Table, Table, Table]:
        """The StateTable, AggregateMarkerTable, AggregateTable and PartialTable: what the slice writes is charged
        against its share of the quota."""
        params, w = self.p, self.d.weight
        state_table = Table(
            "StateTable",
            Bucket(params.table_wcu_quota / w),
            [Bucket(params.partition_wcu) for _ in range(self.d.slice_state_partitions)],
            scale=w,
        )
        marker_scale = w if self.design == NEW else 1
        marker_partitions = max(1, self.d.marker_partitions // marker_scale)
        marker_table = Table(
            "AggregateMarkerTable",
            Bucket(params.table_wcu_quota / marker_scale),
            [Bucket(params.partition_wcu) for _ in range(marker_partitions)],
            scale=marker_scale,
        )
        aggregate_table = Table(
            "AggregateTable", Bucket(params.table_wcu_quota), [Bucket(params.partition_wcu)], per_item=True
        )
        partial_table = Table(
            "PartialTable", Bucket(params.table_wcu_quota), [Bucket(params.partition_wcu)], per_item=True
        )
        return state_table, marker_table, aggregate_table, partial_table

    def build_slice(self) -> tuple[list[list[Lane]], list[tuple[Bucket, Bucket]], list[list[Lane]]]:
        """The slice's Kinesis lanes (per shard), the shards' ingest limits (records, bytes) and the StateTable
        stream's lanes (per stream shard)."""
        params = self.p
        pf_state, pf_agg = params.state_parallelization, params.aggregate_parallelization
        kinesis = [[Lane() for _ in range(pf_state)] for _ in range(self.d.slice_shards)]
        kinesis_in = [
            (Bucket(params.shard_records_per_second), Bucket(params.shard_bytes_per_second))
            for _ in range(self.d.slice_shards)
        ]
        stream = [[Lane() for _ in range(pf_agg)] for _ in range(self.d.slice_state_partitions)]
        return kinesis, kinesis_in, stream

    # ------------------------------------------------------------------ helpers
    def in_window(self) -> bool:
        return self.window[0] <= self.clock.now < self.window[1]

    def busy(self, kind: str, seconds: float, weight: int) -> None:
        start, end = self.clock.now, self.clock.now + seconds
        overlap = max(0.0, min(end, self.window[1]) - max(start, self.window[0]))
        if overlap:
            self.stats.add_busy(kind, overlap * weight)

    def acquire(self, lane: object, weight: int) -> bool:
        """A unit of the account's concurrency for an invocation. Throttled invocations get theirs in the order
        they were first refused (a lane that stopped asking, having nothing left to do, loses its turn)."""
        now = self.clock.now
        waiting = self.waiting_lanes
        mine = waiting.get(lane)
        if mine is not None and now - mine[1] > STOPPED_ASKING:
            del waiting[lane]  # it stopped asking: it asks again from the back
        while waiting:  # those ahead that stopped asking lose their turn (the others keep their order)
            first, (_, asked) = next(iter(waiting.items()))
            if now - asked <= STOPPED_ASKING:
                break
            del waiting[first]
        first = next(iter(waiting), lane)
        if first is lane and self.free_slots >= weight:
            self.free_slots -= weight
            self.waiting_lanes.pop(lane, None)
            return True
        since = self.waiting_lanes.get(lane, (now, now))[0]
        self.waiting_lanes[lane] = (since, now)
        self.stats.invocation_throttles += 1
        return False

    def throttled(self) -> float:
        """A throttled invocation: the mapping tries again a little later (every mapping alike)."""
        return self.rng.uniform(0.05, 0.15)

    def release(self, weight: int) -> None:
        self.free_slots += weight

    def make_visible(self, trade: str, version: int) -> None:
        if version <= self.visible.get(trade, -1):
            return
        self.visible[trade] = version
        waiting = self.waiting.get(trade)
        if waiting:
            still = []
            for wanted, index in waiting:
                if wanted <= version:
                    self.done_at[index] = self.clock.now
                else:
                    still.append((wanted, index))
            self.waiting[trade] = still

    def wait_for(self, trade: str, version: int, index: int) -> None:
        if not math.isnan(self.done_at[index]):
            return
        if version <= self.visible.get(trade, -1):
            self.done_at[index] = self.clock.now
        else:
            self.waiting.setdefault(trade, []).append((version, index))

    # ------------------------------------------------------------------ producer
    def producer(self) -> Process:
        pending: list[tuple[int, Record]] = []
        if self.burst is not None:
            for record in self.burst:
                pending.append((self.new_message(), record))
            while pending:
                pending = self.put(pending)
                yield self.p.put_retry_delay
            return
        calls = self.traffic.calls()
        interval = self.traffic.records_per_call / (self.load / self.d.weight)
        # call k goes at a random moment of its own interval [k, k + 1) x interval: jittered, but the count sent
        # by any time stays within one call of the offered rate (jitter that accumulated would offer less or more)
        slot = 0
        yield interval * self.rng.random()
        while self.clock.now < self.end_of_load:
            batch = [(self.new_message(), record) for record in next(calls)]
            pending = self.put(pending + batch)
            slot += 1
            yield (slot + self.rng.random()) * interval - self.clock.now
        while pending:
            pending = self.put(pending)
            yield self.p.put_retry_delay

    def new_message(self) -> int:
        self.sent_at.append(self.clock.now)
        self.done_at.append(math.nan)
        return len(self.sent_at) - 1

    def put(self, entries: list[tuple[int, Record]]) -> list[tuple[int, Record]]:
        refused = []
        now = self.clock.now
        for index, record in entries:
            shard = record.shard(self.d.slice_shards)
            records, size = self.kinesis_in[shard]
            if records.available(now) >= 1 and size.available(now) >= record.size:
                records.level -= 1
                size.level -= record.size
                lanes = self.kinesis[shard]
                lanes[record.hash_key % len(lanes)].append(now, (index, record))
            else:
                refused.append((index, record))
        self.stats.put_retries += len(refused)
        return refused

    # ------------------------------------------------------------------ event source lanes
    def gather(
        self, lane: Lane, cursor: int, batch_size: int, window: float, poll: float, idle_poll: float | None = None
    ) -> float | int:
        """How many records to invoke with now (an int), or how long to wait before looking again (a float)."""
        pending = len(lane.records) - cursor
        if pending == 0:
            return float(poll if idle_poll is None else idle_poll)
        if pending >= batch_size or self.clock.now >= lane.times[cursor] + window or self.clock.now > self.end_of_load:
            return min(pending, batch_size)
        return float(min(poll, lane.times[cursor] + window - self.clock.now))

    def state_lane(self, lane: Lane) -> Process:
        """A lane of the Kinesis stream's mapping: the StateLambda, one invocation after another."""
        cursor = 0
        p, w = self.p, self.d.weight
        while True:
            ready = self.gather(
                lane, cursor, p.state_batch_size, p.state_window, p.kinesis_busy_poll, p.kinesis_idle_poll
            )
            if isinstance(ready, float):
                yield ready
                continue
            if not self.acquire(lane, w):
                yield self.throttled()
                continue
            cursor = yield from self.state_invocation(lane, cursor, ready)

    def state_invocation(self, lane: Lane, cursor: int, ready: int) -> Generator[float, None, int]:
        """One StateLambda invocation over ``ready`` records from ``cursor``: the newest version of each trade
        written, the messages up to the first failed record decided; the lane's next cursor."""
        p = self.p
        entries = lane.records[cursor : cursor + ready]
        started = self.clock.now
        yield p.invoke_overhead + p.state_cpu_per_record * ready
        winners = newest_per_trade(record for _, record in entries)
        yield p.write_latency * math.ceil(len(winners) / p.write_concurrency)
        failed = yield from self.write_winners(list(winners))
        for trade, record in winners.items():
            if trade not in failed:
                self.write_state(record)
        first_failed = next((i for i, (_, r) in enumerate(entries) if r.TradeID in failed), None)
        self.decide(entries if first_failed is None else entries[:first_failed])
        return self.finish("state", started, self.d.weight, cursor, ready, first_failed)

    def write_winners(self, trades: list[str]) -> Generator[float, None, set[str]]:
        """One conditional write a trade against the StateTable, the throttled ones retried with the SDK's backoff
        up to its attempts; the trades whose write still failed. (Kept in the batch's order, not in a set: a set of
        strings iterates in an order that changes from one process to the next, and so would the run.)"""
        failed = [t for t in trades if not charge_one(self.state_table, t, 1, self.clock.now)]
        attempt = 1
        while failed and attempt < self.p.sdk_max_attempts:
            self.stats.throttle_retries += len(failed)
            yield sdk_backoff(self.rng, attempt)
            failed = [t for t in failed if not charge_one(self.state_table, t, 1, self.clock.now)]
            attempt += 1
        return set(failed)

    def decide(self, entries: Sequence[tuple[int, Record]]) -> None:
        """The state stage has decided these messages: each is done once its version is visible."""
        for index, record in entries:
            self.decided += 1
            self.decided_at.append(self.clock.now)
            self.wait_for(record.TradeID, record.Version, index)

    def finish(self, kind: str, started: float, weight: int, cursor: int, count: int, failed_at: int | None) -> int:
        """The end of an invocation: its lane's next record is the lowest one reported failed (delivered again with
        everything after it), or the one after the batch."""
        self.busy(kind, self.clock.now - started, weight)
        self.release(weight)
        if failed_at is None:
            return cursor + count
        if kind == "state":
            self.stats.state_failed_batches += 1
        else:
            self.stats.failed_batches += 1
        return cursor + failed_at

    def write_state(self, record: Record) -> None:
        stored = self.stored.get(record.TradeID)
        if stored is not None and stored.Version >= record.Version:
            return  # duplicate or stale: refused by the condition, the write unit is spent all the same
        self.stored[record.TradeID] = record
        self.sequence += 1
        self.emitted_at.append(self.clock.now)
        change = TradeChange(
            sequence_number=f"{self.sequence:021d}",
            trade_id=record.TradeID,
            new_version=record.Version,
            new=record.contribution,
            old=stored.contribution if stored is not None else None,
            old_version=stored.Version if stored is not None else None,
        )
        key = stable_hash(record.TradeID)
        lanes = self.stream[key % len(self.stream)]
        lanes[key // 7 % len(lanes)].append(self.clock.now, change)

    # ------------------------------------------------------------------ transactions
    def transact(
        self, keys: list[tuple], charges: list[Charge], applied: Callable[[], dict[str, int]], hot: bool
    ) -> Generator[float, None, str]:
        """One TransactWriteItems attempt: 'conflict', 'applied' (a marker or delete condition failed),
        'throttled' or 'committed' (after the transaction's duration)."""
        self.stats.transactions += 1
        now = self.clock.now
        if any(self.locks.get(k, -1.0) > now for k in keys):
            self.stats.conflicts += 1
            yield self.p.cancel_latency
            return "conflict"
        if applied():
            self.stats.already_applied += 1
            yield self.p.cancel_latency
            return "applied"
        if not try_charge(charges, now):
            yield self.p.cancel_latency
            return "throttled"
        until = now + self.p.transaction_duration
        for k in keys:
            self.locks[k] = until
        if hot:
            overlap = max(0.0, min(until, self.window[1]) - max(now, self.window[0]))
            self.stats.hot_item_busy += overlap
        yield self.p.transaction_duration
        self.stats.committed += 1
        if hot and self.in_window():
            self.hot_commits += 1
        return "committed"

    def backoff(self, conflicts: int) -> float:
        return self.rng.uniform(0, min(1.0, 0.02 * 2**conflicts))  # AggregateService's full jitter

    def apply_with_retries(
        self, attempt: Callable[[], Generator[float, None, str]], on_applied: Callable[[], bool]
    ) -> Generator[float, None, bool]:
        """The aggregate service's loop around one transaction: conflicts back off and retry up to
        transaction_max_attempts, throttling up to the SDK's attempts, an already applied part is dropped."""
        conflicts = throttles = 0
        while True:
            outcome = yield from attempt()
            if outcome == "committed":
                return True
            if outcome == "applied":
                if not on_applied():
                    return True  # nothing left to apply
                continue
            if outcome == "conflict":
                conflicts += 1
                if conflicts >= self.p.transaction_max_attempts:
                    return False
                yield self.backoff(conflicts)
            else:
                throttles += 1
                self.stats.throttle_retries += 1
                if throttles >= self.p.sdk_max_attempts:
                    return False
                yield sdk_backoff(self.rng, throttles)

    # ------------------------------------------------------------------ today's aggregate stage
    def plan(self, lane: Lane, cursor: int, count: int) -> tuple[list[SubBatch], dict[str, int], int]:
        key = (id(lane), cursor, count)
        if key not in self.plans:
            changes: list[TradeChange] = lane.records[cursor : cursor + count]
            unique, _ = split_repeats(changes)
            position = {c.sequence_number: i for i, c in enumerate(changes)}
            plan = plan_map(unique, ORDER) if self.design == NEW else plan_sub_batches(unique, ORDER)
            self.plans[key] = (plan, position, len(changes))
        return self.plans[key]

    def aggregate_lane(self, lane: Lane, replica: int) -> Process:
        """A lane of the StateTable stream's mapping: today's aggregate function, or the new design's map."""
        cursor = 0
        p = self.p
        weight = self.d.weight if self.design == NEW else 1
        while True:
            ready = self.gather(
                lane, cursor, min(p.aggregate_batch_size, p.stream_max_records), p.aggregate_window, p.stream_poll
            )
            if isinstance(ready, float):
                yield ready
                continue
            if not self.acquire((lane, replica), weight):
                yield self.throttled()
                continue
            started = self.clock.now
            yield p.invoke_overhead + p.aggregate_cpu_per_record * ready
            plan, position, count = self.plan(lane, cursor, ready)
            lowest_failed = yield from self.apply_plan(plan, position, replica)
            cursor = self.finish("aggregate", started, weight, cursor, count, lowest_failed)

    def apply_plan(
        self, plan: list[SubBatch], position: dict[str, int], replica: int
    ) -> Generator[float, None, int | None]:
        """An invocation's sub-batches in order, each without the trades that already failed in it; the position
        in the batch of the lowest change reported failed, or None."""
        failed_trades: set[str] = set()
        failed_at: list[int] = []
        for planned in plan:
            failures = yield from self.apply_unblocked(planned, failed_trades, replica)
            if failures is planned.chains:  # the whole sub-batch failed (often, under contention): at once
                trades, lowest = self.failed_whole(planned, position)
                failed_trades |= trades
                failed_at.append(lowest)
                continue
            for chain in failures:
                failed_trades.add(chain.trade_id)
                failed_at.append(position[chain.changes[0].sequence_number])  # a chain is in stream order
        return min(failed_at, default=None)

    def failed_whole(self, planned: SubBatch, position: dict[str, int]) -> tuple[frozenset[str], int]:
        """A planned sub-batch's trades and the position of its lowest change (kept: replays ask again)."""
        known = self.failures.get(id(planned))
        if known is None or known[0] is not planned:
            trades = frozenset(c.trade_id for c in planned.chains)
            lowest = min(position[c.changes[0].sequence_number] for c in planned.chains)
            known = self.failures[id(planned)] = (planned, trades, lowest)
        return known[1], known[2]

    def apply_unblocked(
        self, planned: SubBatch, failed_trades: set[str], replica: int
    ) -> Generator[float, None, list[TradeChain]]:
        """A planned sub-batch less the chains of trades that failed before it (they fail too); the chains that
        failed: those, and the rest if its transaction failed."""
        blocked = [c for c in planned.chains if c.trade_id in failed_trades] if failed_trades else []
        batch = SubBatch([c for c in planned.chains if c not in blocked], planned.order) if blocked else planned
        ok = True
        if batch.chains:
            ok = yield from self.apply_sub_batch(batch, replica)
        if ok:
            return blocked
        return blocked + batch.chains if blocked else batch.chains

    def apply_sub_batch(self, batch: SubBatch, replica: int) -> Generator[float, None, bool]:
        """One sub-batch's transaction: the new design's map, or today's aggregate transaction."""
        return (yield from (self.apply_map(batch) if self.design == NEW else self.apply_current(batch, replica)))

    def identifiers(self, batch: SubBatch) -> list[str]:
        """The aggregate items a sub-batch's transaction touches, ``message_count`` first (kept per sub-batch:
        every lane that replays it asks again)."""
        known = self.touched.get(id(batch))
        if known is None or known[0] is not batch:
            known = self.touched[id(batch)] = (batch, [MESSAGE_COUNT_ID, *batch.deltas()])
        return known[1]

    def apply_current(self, batch: SubBatch, replica: int) -> Generator[float, None, bool]:
        marked = MarkedBatch(batch, self.markers, replica)

        prepared: list = [None, [], []]  # the sub-batch as it stands, its transaction's keys and charges

        def attempt() -> Generator[float, None, str]:
            current = marked.batch
            if self.locks.get(HOT_KEY, -1.0) > self.clock.now:  # held: cancelled before its other items matter
                return (yield from self.transact([HOT_KEY], [], marked.already, hot=True))
            if prepared[0] is not current:  # built again only when the markers dropped part of it
                touched = self.identifiers(current)
                keys: list[tuple] = [("a", i) for i in touched]  # message_count first: a conflict shows at once
                keys += [("m", replica, c.trade_id) for c in current.chains]
                charges: list[Charge] = [
                    (self.marker_table, f"{replica}:{c.trade_id}", TRANSACTION_ITEM_WCU) for c in current.chains
                ]
                charges += [(self.aggregate_table, i, TRANSACTION_ITEM_WCU) for i in touched]
                prepared[:] = [current, keys, charges]
            _, keys, charges = prepared
            outcome = yield from self.transact(keys, charges, marked.already, hot=True)
            if outcome == "committed":
                marked.commit()
                for chain in current.chains:
                    if replica == 0:
                        self.make_visible(chain.trade_id, chain.last_version)
                self.stats.changes_applied += current.message_count
                self.applied_log.append((self.clock.now, current.message_count))
            return outcome

        return (yield from self.apply_with_retries(attempt, marked.drop))

    # ------------------------------------------------------------------ the new design
    def apply_map(self, batch: SubBatch) -> Generator[float, None, bool]:
        marked = MarkedBatch(batch, self.markers, 0)

        prepared: list = [None, None, [], []]  # the sub-batch as it stands, its partial, keys and charges

        def attempt() -> Generator[float, None, str]:
            current = marked.batch
            if prepared[0] is not current:  # built again only when the markers dropped part of it
                partial = partial_of(current)
                keys: list[tuple] = [("m", 0, c.trade_id) for c in current.chains] + [("p", partial.partial_id)]
                charges: list[Charge] = [(self.marker_table, c.trade_id, TRANSACTION_ITEM_WCU) for c in current.chains]
                units = TRANSACTION_ITEM_WCU * write_units(partial_size(partial))
                charges.append((self.partial_table, partial.partial_id, units * self.d.weight))
                prepared[:] = [current, partial, keys, charges]
            _, partial, keys, charges = prepared
            outcome = yield from self.transact(keys, charges, marked.already, hot=False)
            if outcome == "committed":
                marked.commit()
                covers = [(c.trade_id, c.last_version) for c in current.chains]
                for copy in range(self.d.weight):
                    pid = partial.partial_id if copy == 0 else f"{partial.partial_id}~{copy}"
                    record = PartialRecord(
                        Partial(pid, partial.deltas, partial.message_count), covers if copy == 0 else None
                    )
                    self.partial_stream[stable_hash(pid) % len(self.partial_stream)].append(self.clock.now, record)
            return outcome

        return (yield from self.apply_with_retries(attempt, marked.drop))

    def reducer(self) -> Process:
        """Reserved concurrency 1: one invocation at a time over every shard of the partial table's stream."""
        cursors = [0] * len(self.partial_stream)
        turn = 0
        while True:
            chosen = self.next_ready_shard(cursors, turn)
            if chosen is None:
                yield self.p.stream_poll
                continue
            j, ready = chosen
            turn = j + 1
            if not self.acquire("reduce", 1):
                yield self.throttled()
                continue
            cursors[j] = yield from self.reduce_invocation(self.partial_stream[j], cursors[j], ready)

    def next_ready_shard(self, cursors: list[int], turn: int) -> tuple[int, int] | None:
        """The first shard of the partial table's stream, in turn from ``turn``, that has a batch to invoke with
        now, and how many records; None if none has."""
        p = self.p
        shards = len(self.partial_stream)
        for k in range(shards):
            j = (turn + k) % shards
            ready = self.gather(
                self.partial_stream[j],
                cursors[j],
                min(p.reduce_batch_size, p.stream_max_records),
                p.reduce_window,
                p.stream_poll,
            )
            if isinstance(ready, int):
                return j, ready
        return None

    def reduce_invocation(self, lane: Lane, cursor: int, ready: int) -> Generator[float, None, int]:
        """One reduce invocation over ``ready`` partials from ``cursor``: every transaction of its plan; the shard's
        next cursor (the same batch again if any transaction failed)."""
        p = self.p
        started = self.clock.now
        records: list[PartialRecord] = lane.records[cursor : cursor + ready]
        yield p.invoke_overhead + p.reduce_cpu_per_partial * ready
        by_id = {r.partial.partial_id: r for r in records}
        failed = False
        plan = plan_reduce(r.partial for r in records)
        if self.window[0] <= started < self.window[1]:
            self.stats.add_reduce(1, ready, len(plan))
        for transaction in plan:
            ok = yield from self.apply_reduce(transaction, [by_id[i].partial for i in transaction.partial_ids], by_id)
            failed = failed or not ok
        self.busy("reduce", self.clock.now - started, 1)
        self.release(1)
        if failed:
            self.stats.failed_batches += 1  # delivered again: the deletes' conditions skip what was applied
            return cursor
        return cursor + ready

    def apply_reduce(
        self, transaction: ReduceTransaction, partials: list[Partial], by_id: dict[str, PartialRecord]
    ) -> Generator[float, None, bool]:
        state = {"txn": transaction}

        def already() -> dict[str, int]:
            return {pid: 0 for pid in state["txn"].partial_ids if pid in self.deleted}

        def drop() -> bool:
            rest = without_partials(state["txn"], partials, already())
            if rest is None:
                return False
            state["txn"] = rest
            return True

        def attempt() -> Generator[float, None, str]:
            txn = state["txn"]
            keys: list[tuple] = [("a", i) for i in txn.deltas] + [("p", pid) for pid in txn.partial_ids]
            charges: list[Charge] = [(self.aggregate_table, i, TRANSACTION_ITEM_WCU) for i in txn.deltas]
            charges += [(self.partial_table, pid, TRANSACTION_ITEM_WCU) for pid in txn.partial_ids]
            outcome = yield from self.transact(keys, charges, already, hot=True)
            if outcome == "committed":
                self.deleted.update(txn.partial_ids)
                for pid in txn.partial_ids:
                    covers = by_id[pid].covers
                    for trade, version in covers or ():
                        self.make_visible(trade, version)
                self.stats.changes_applied += int(txn.deltas[MESSAGE_COUNT_ID])
                self.applied_log.append((self.clock.now, int(txn.deltas[MESSAGE_COUNT_ID])))
            return outcome

        return (yield from self.apply_with_retries(attempt, drop))

    # ------------------------------------------------------------------ run
    def run(self) -> Result:
        p = self.p
        self.clock.start(self.producer())
        for lanes in self.kinesis:
            for lane in lanes:
                self.clock.start(self.state_lane(lane), self.rng.uniform(0, p.kinesis_idle_poll))
        replicas = self.d.weight if self.design == CURRENT else 1
        for replica in range(replicas):
            for lanes in self.stream:
                for lane in lanes:
                    self.clock.start(self.aggregate_lane(lane, replica), self.rng.uniform(0, p.stream_poll))
        if self.design == NEW:
            self.clock.start(self.reducer(), self.rng.uniform(0, p.stream_poll))
        end = p.load_seconds + p.drain_seconds
        self.clock.run(end)
        return self.result(end)

    def result(self, end: float) -> Result:
        p, w = self.p, self.d.weight
        span = self.window[1] - self.window[0]
        # The state stage's share of the offered load (the messages decided over those sent in the window), to
        # tell which stage falls behind; the pipeline's own throughput is measured on whole messages (sustained).
        offered = Counted([(t, w) for t in self.sent_at])
        state_rate = self.load * share(offered, Counted([(t, w) for t in self.decided_at]), self.window)
        throughput, keeps_up, visible_rate = self.sustained()
        p50, p99, p99_censored = self.latencies(end)
        wcu = {t.name: t.units for t in self.tables}
        processed = self.messages_through()
        utilisation = self.utilisation(span)
        return Result(
            design=self.design,
            offered=self.load,
            quotas=self.quotas,
            throughput=throughput,
            conflicts_per_transaction=self.stats.conflicts / max(1, self.stats.transactions),
            retries=self.stats.conflicts + self.stats.throttle_retries,
            failed_batches=self.stats.failed_batches + self.stats.state_failed_batches,
            p50=p50,
            p99=p99,
            p99_censored=p99_censored,
            write_units_per_message=sum(wcu.values()) / processed,
            write_units_by_table={k: v / processed for k, v in wcu.items()},
            write_units_total=wcu,
            changes_applied=self.stats.changes_applied,
            binds=self.binding(throughput, state_rate, utilisation),
            utilisation=utilisation,
            deployment={
                "kinesis_shards": self.d.shards,
                "state_partitions_and_stream_shards": self.d.state_partitions,
                "lanes": self.d.lanes(p, self.design),
                "simulated_fraction_1_in": w,
            },
            transactions_per_second=self.stats.committed / (p.load_seconds + p.drain_seconds),
            hot_item_transactions_per_second=self.hot_commits / span,
            keeps_up=keeps_up,
            reduce=self.reduce_figures(span),
            visible_per_second=visible_rate,
        )

    def sustained(self) -> tuple[float, bool, float]:
        """The sustained throughput (messages a second), whether the pipeline keeps up, and the rate at which
        messages became visible in the steady window (in the fleet).

        The pipeline keeps up with the offered load when, over the steady window W = [warm_up, load_seconds):
        every message sent in W has its aggregate visible by the end of the run, and the backlog (messages sent,
        not yet visible) stays bounded: its lowest point in W's second half (just after a reduce or aggregate
        commit: the backlog is a saw) is no more than 5% of W's messages above its lowest point in W's first
        half. Then it sustains the offered load. Otherwise it sustains what it delivers: the messages that
        became visible during W, a second. The resolution is the 5%: a pipeline that would fall behind by
        less over W (one above 95% of the load) is not told from one that keeps up."""
        start, end = self.window
        sent = Counted([(t, 1.0) for t in self.sent_at])
        visible = Counted([(t, 1.0) for t in self.done_at if not math.isnan(t)])
        in_window = sent.by(end) - sent.by(start)
        # what became visible is counted on the fleet's changes applied (every lane and partial of the fleet,
        # where the slice's own messages see a share of them only), as messages: decided over changes written
        applied = Counted(self.applied_log)
        per_change = len(self.decided_at) / len(self.emitted_at) if self.emitted_at else 0.0
        visible_rate = (applied.by(end) - applied.by(start)) * per_change / (end - start)
        if in_window <= 0:
            return 0.0, False, visible_rate
        every_one = all(not math.isnan(d) for t, d in zip(self.sent_at, self.done_at, strict=True) if start <= t < end)
        half = (end - start) / 2

        def lowest_backlog(begin: float) -> float:
            steps = int(half / SAMPLE) + 1
            return min(sent.by(t) - visible.by(t) for t in (begin + SAMPLE * i for i in range(steps)))

        bounded = lowest_backlog(start + half) - lowest_backlog(start) <= BACKLOG_TOLERANCE * in_window
        keeps_up = every_one and bounded
        return (self.load if keeps_up else visible_rate), keeps_up, visible_rate

    def reduce_figures(self, span: float) -> dict[str, float]:
        """The reducer over the window: invocations, partials and transactions a second, partials a transaction
        (at most 100 items less the aggregates it moves), and the share of its time each part takes."""
        counts = self.stats.reduce
        if not counts:
            return {}
        p = self.p
        per_second = {f"{k}_per_second": v / span for k, v in counts.items()}
        return per_second | {
            "partials_per_transaction": counts["partials"] / max(1.0, counts["transactions"]),
            "share_transactions": counts["transactions"] * p.transaction_duration / span,
            "share_cpu": counts["partials"] * p.reduce_cpu_per_partial / span,
            "share_overhead": counts["invocations"] * p.invoke_overhead / span,
        }

    def latencies(self, end: float) -> tuple[float, float, bool]:
        """The p50 and p99 latency of the messages sent in the load but its first and last second, and whether the
        p99 is censored (a message not done by ``end`` counts what it waited until then); NaN if there are none."""
        latencies = []
        censored = []
        for sent, finished in zip(self.sent_at, self.done_at, strict=True):
            if 1.0 <= sent < self.p.load_seconds - 1.0:
                done = not math.isnan(finished)
                latencies.append((finished if done else end) - sent)
                censored.append(not done)
        if not latencies:
            return math.nan, math.nan, False
        order = sorted(range(len(latencies)), key=latencies.__getitem__)
        i99 = order[min(len(order) - 1, int(len(order) * 0.99))]
        return latencies[order[len(order) // 2]], latencies[i99], censored[i99]

    def messages_through(self) -> float:
        """The messages of the fleet that got through the whole pipeline, the divisor of write units per message:
        only meaningful when most of what was sent got through, NaN otherwise."""
        processed = sum(1 for t in self.done_at if not math.isnan(t)) * self.d.weight
        sent_total = len(self.sent_at) * self.d.weight
        return processed if processed > 0.5 * sent_total else math.nan

    def utilisation(self, span: float) -> dict[str, float]:
        """How busy each part was: the lanes of each stage and the item every transaction touches over the window
        (the reduce too in the new design), each table's write units over its quota over the whole run."""
        p = self.p
        lanes_state = self.d.shards * p.state_parallelization
        lanes_agg = self.d.state_partitions * p.aggregate_parallelization
        lanes_name, hot_name = UTILISATION_NAMES[self.design]
        utilisation = {
            "state lanes": self.stats.busy.get("state", 0.0) / (lanes_state * span),
            lanes_name: self.stats.busy.get("aggregate", 0.0) / (lanes_agg * span),
            hot_name: self.stats.hot_item_busy / span,
        }
        if self.design == NEW:
            utilisation["reduce"] = self.stats.busy.get("reduce", 0.0) / span
        for table in self.tables:
            utilisation[f"{table.name} quota"] = table.units / (p.load_seconds + p.drain_seconds) / p.table_wcu_quota
        return utilisation

    def binding(self, throughput: float, state_rate: float, utilisation: dict[str, float]) -> str:
        """What stops the pipeline: in the stage that falls behind, every quota it hit (they can be raised), else
        its busiest part."""
        name, busiest = max(utilisation.items(), key=lambda kv: kv[1])
        if throughput >= 0.97 * self.load:
            return f"nothing (busiest: {name} {busiest:.0%})"
        reasons: list[str] = []
        throttled = (
            bool(self.stats.invocation_throttles) or self.d.lanes(self.p, self.design) > self.p.concurrency_quota
        )
        if throughput < 0.97 * state_rate:  # the aggregate stage falls behind the state stage
            reasons += self.aggregate_reasons(utilisation, throttled) or [self.busiest_aggregate_stage(utilisation)]
        if state_rate < 0.97 * self.load:  # the state stage falls behind the producer
            reasons += self.state_reasons(utilisation, throttled)
            if not reasons:
                reasons.append(f"state lanes ({utilisation['state lanes']:.0%} busy)")
        return "; ".join(dict.fromkeys(reasons))

    def concurrency_reasons(self, throttled: bool) -> list[str]:
        return [f"Lambda concurrency quota ({self.p.concurrency_quota:,})"] if throttled else []

    def aggregate_reasons(self, utilisation: dict[str, float], throttled: bool) -> list[str]:
        """Why the aggregate stage falls behind: the concurrency quota, the item every transaction touches, the
        quotas of the tables it writes (empty if none of these)."""
        hot = next(k for k in utilisation if k.endswith("item message_count"))
        reasons = self.concurrency_reasons(throttled)
        if utilisation[hot] >= 0.9:
            reasons.append(f"{hot} (held {utilisation[hot]:.0%} of the time: every transaction touches it)")
        return reasons + self.quota_reasons(utilisation, [t for t in self.tables if t is not self.state_table])

    @staticmethod
    def busiest_aggregate_stage(utilisation: dict[str, float]) -> str:
        """The busiest part of the aggregate stage: its lanes, or the reduce."""
        stages = {k: v for k, v in utilisation.items() if k == "reduce" or ("lanes" in k and "state" not in k)}
        stage = max(stages, key=lambda k: stages[k])
        return f"{stage} ({utilisation[stage]:.0%} busy)"

    def state_reasons(self, utilisation: dict[str, float], throttled: bool) -> list[str]:
        """Why the state stage falls behind the producer: the concurrency quota, the StateTable's quota, Kinesis
        refusing records (empty if none of these)."""
        reasons = self.concurrency_reasons(throttled) + self.quota_reasons(utilisation, [self.state_table])
        if self.stats.put_retries > 0.01 * len(self.sent_at):
            reasons.append("Kinesis shard ingest")
        return reasons

    def quota_reasons(self, utilisation: dict[str, float], tables: list[Table]) -> list[str]:
        reasons = []
        quotas = [t.name for t in tables if t.quota_throttles or utilisation[f"{t.name} quota"] > 0.9]
        if quotas:
            reasons.append(f"write quota ({self.p.table_wcu_quota:,} WCU/s) of {' and '.join(quotas)}")
        for table in tables:
            if table.partition_throttles > 0.01 * self.stats.transactions + 10:
                reasons.append(f"{table.name} {'item' if table.per_item else 'partition'} write units")
        return reasons


class Counted:
    """Events in time order, each with a count: how many happened by a given time."""

    def __init__(self, events: Sequence[tuple[float, float]]) -> None:
        ordered = sorted(events)
        self.times = [t for t, _ in ordered]
        self.totals = list(itertools.accumulate(n for _, n in ordered))

    def by(self, t: float) -> float:
        i = bisect.bisect_right(self.times, t)
        return self.totals[i - 1] if i else 0.0


def share(arrived: Counted, completed: Counted, window: tuple[float, float]) -> float:
    """The fraction of what arrives at a stage in the window that it keeps up with.

    Completions come in lumps, a batch at a time, so the backlog (arrived, not yet complete) is a saw. A stage keeps
    up when the saw's troughs (the lowest point of each end's two seconds, just after a lump) do not rise by more
    than 5% of the arrivals: then the share is 1 less that rise. A stage that falls behind completes without pause,
    and its share is what it completed over what arrived in the window."""
    start, end = window
    span = end - start
    arrivals = arrived.by(end) - arrived.by(start)
    if arrivals <= 0:
        return 0.0
    stretch = min(2.0, span / 3)

    def trough(begin: float) -> float:
        return min(arrived.by(t) - completed.by(t) for t in (begin + 0.05 * i for i in range(int(stretch / 0.05) + 1)))

    rise = trough(end - stretch) - trough(start)
    if rise <= 0.05 * arrivals:
        return min(1.0, 1.0 - max(0.0, rise) / arrivals)
    return min(1.0, (completed.by(end) - completed.by(start)) / arrivals)


def partial_size(partial: Partial) -> int:
    """The partial item's size by DynamoDB's rules (``benchmarks.units``)."""
    return item_size(partial.to_item())


def one_lane(
    design: str, records: Sequence[Record], batch_size: int, params: Params, traffic: WorkshopTraffic | None = None
) -> Result:
    """These records sent at once through one shard, one lane and one StateTable partition, the aggregate batches
    filled to ``batch_size`` (a batching window longer than the run): no contention, no quota in the way."""
    one = replace(
        params.raised(),
        state_parallelization=1,
        aggregate_parallelization=1,
        aggregate_batch_size=batch_size,
        aggregate_window=30.0,
        reduce_window=30.0,
        load_seconds=60.0,
        drain_seconds=30.0,
    )
    deployment = Deployment(shards=1, weight=1, state_partitions=1, marker_partitions=1, partial_partitions=1)
    return Simulation(
        design, 1, one, traffic or WorkshopTraffic(messages=[]), deployment=deployment, burst=records
    ).run()
