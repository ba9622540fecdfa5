"""The discrete-event simulation: the pipeline as template.yaml deploys it, in simulated time, for one design of the
aggregate stage and one offered load.

What runs (each a process of simulated time):

* the producer: the workshop's calls at the offered rate, each record onto the shard its key hashes to; a shard
  takes 1,000 records and 1 MB a second, a refused record is re-sent;
* each stream shard's reader, one per mapping (``readers``): GetRecords as documented (Kinesis: at most 10,000
  records and 10 MB a call, 5 calls and 2 MB a second a shard, polled once a second when idle; DynamoDB Streams:
  at most 1,000 records and 1 MB a call, 4 polls a second), each record readable after its propagation delay;
  what a mapping's filter drops (the deletes' REMOVE records) is read all the same;
* each mapping's lanes (``shards x ParallelizationFactor``, records spread by partition key or item), gathering a
  batch (BatchSize, the batching window) and invoking its function: Lambda's overhead, the function's CPU per
  record scaled to its MemorySize (1,769 MB is one vCPU), its DynamoDB calls;
* the StateLambda: ``riskpipe.versions.newest_per_trade`` (its own coalescing), one conditional write per trade in
  waves of WRITE_CONCURRENCY, a throttled write retried with the SDK's backoff;
* the aggregate stage (``capacity.stages``): the previous one-transaction design (``riskpipe.aggregation``), or the
  map (``riskpipe.partials.plan_map``), the combining level (``plan_combine``, fed in) and the one reducer
  (``plan_reduce``), each transaction planned by the project's own code.

A transaction holds every item it touches for its duration; one that finds an item held is cancelled
(TransactionConflict) and retried with the aggregate service's backoff. A table's partition takes 1,000 write
units a second (a transactional item costs 2 a KB), a hot item as much, a table its quota. A Lambda invocation
needs a unit of the account's concurrency (the reduce: of its reserved concurrency); a lane or poller refused one
backs off (``throttle_backoff``, doubling) and tries again.

The fleet is simulated through a slice of ``slice_shards`` Kinesis shards (``weight`` = fleet / slice) with their
share of the StateTable's partitions and of every quota. Everything one shard's traffic does not share with
another (the state lanes, the StateTable's partitions and stream shards, the map lanes and their markers, a
PartialTable stream shard and its combining lanes) behaves alike in every slice. What the fleet shares is simulated
whole: the one-transaction design runs every aggregate lane of the fleet (the lanes outside the slice replay the
slice's changes under their own markers: the aggregate items are the fleet's), and every partial (or combined
partial) of the fleet reaches the one reducer, as copies of the slice's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from capacity.deployment import Deployment, Design
from capacity.engine import Bucket, Clock, Lane, Shard, Table, charge_one, stable_hash
from capacity.params import Params
from capacity.traffic import Record, WorkshopTraffic
from riskpipe.aggregation import TradeChange
from riskpipe.versions import newest_per_trade

if TYPE_CHECKING:
    from capacity.measure import Result

TRANSACTION_ITEM_WCU = 2  # a transactional write of an item under 1 KB
STATE_RECORD_BYTES = 420  # a StateTable stream record (keys, both images, metadata): its GetRecords share
Process = Generator[float, None, None]


def sdk_backoff(rng: random.Random, attempt: int) -> float:
    """botocore's standard retry mode for a throttled request (``botocore.retries.standard.ExponentialBackoff``,
    throttling base scale 1): rand(0, 1) x min(2 ** (attempt - 1), 20) seconds."""
    return rng.random() * min(2 ** (attempt - 1), 20)


@dataclass
class Stats:
    transactions: int = 0  # attempts of aggregate-stage transactions
    committed: int = 0
    conflicts: int = 0
    throttle_retries: int = 0
    already_applied: int = 0
    failed_batches: int = 0
    invocation_throttles: dict[str, int] = field(default_factory=dict)
    put_retries: int = 0
    busy: dict[str, float] = field(default_factory=dict)  # stage -> busy seconds in the window (simulated lanes)
    hot_item_busy: float = 0.0
    hot_commits: int = 0
    reduce: dict[str, float] = field(default_factory=dict)  # the reducer in the window: invocations, partials...
    peak: dict[str, float] = field(default_factory=dict)  # stage -> most concurrent executions (fleet)

    def count(self, counter: dict[str, float], key: str, amount: float = 1.0) -> None:
        counter[key] = counter.get(key, 0.0) + amount


class Pool:
    """Concurrent executions: the account's unreserved pool, or a function's reserved concurrency."""

    def __init__(self, size: float) -> None:
        self.free = size
        self.size = size


class Simulation:
    """The pipeline for one design and one offered load (``run`` gives the ``capacity.measure.Result``)."""

    def __init__(
        self,
        design: Design,
        load: float,
        params: Params,
        traffic: WorkshopTraffic,
        *,
        seed: int = 1,
        deployment: Deployment | None = None,
        quotas: str = "default",
        burst: Sequence[Record] | None = None,
        plan_combine: Callable | None = None,
    ) -> None:
        self.design, self.load, self.p, self.quotas = design, load, params, quotas
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.stats = Stats()
        self.traffic = traffic
        self.burst = burst
        self.d = deployment or Deployment.for_load(load, params, traffic.record_bytes)
        self.window = params.window
        self.end_of_load = params.load_seconds
        self.unreserved = Pool(params.concurrency_quota - (params.reduce_reserved if design.partials else 0))
        self.reserved = Pool(params.reduce_reserved)
        self.in_flight: dict[str, float] = {}
        self.sim_lanes: dict[str, int] = {}  # stage -> lanes simulated
        self.state_table = self.sliced_table("StateTable", self.d.slice_state_partitions)
        self.kinesis = [Shard() for _ in range(self.d.slice_shards)]
        self.kinesis_in = [
            (Bucket(params.shard_records_per_second), Bucket(params.shard_bytes_per_second))
            for _ in range(self.d.slice_shards)
        ]
        self.state_stream = [Shard() for _ in range(self.d.slice_state_partitions)]
        self.stored: dict[str, Record] = {}
        self.sequence = 0
        self.locks: dict[tuple, float] = {}
        self.visible: dict[str, int] = {}
        self.waiting: dict[str, list[tuple[int, int]]] = {}
        self.sent_at: list[float] = []
        self.done_at: list[float] = []
        self.decided_at: list[float] = []
        self.emitted_at: list[float] = []
        self.applied: list[tuple[float, int]] = []  # (time, changes applied to the aggregates), the fleet's
        from capacity.stages import build_stages  # the aggregate stage's components use this core

        self.stages = build_stages(self, plan_combine)
        self.tables = [self.state_table, *self.stages.tables]

    # ------------------------------------------------------------------ tables
    def sliced_table(self, name: str, partitions: int) -> Table:
        """A table the slice has its share of: its quota over the weight, its own partitions."""
        w = self.d.weight
        return Table(name, self.quota(w), [Bucket(self.p.partition_wcu) for _ in range(partitions)], w)

    def quota(self, share: float = 1.0) -> Bucket:
        """A table's write quota (its ``1 / share``), banking ``quota_burst`` seconds of it at most, and never less
        than a 100-item transaction (2 units an item) so that one can pass."""
        rate = self.p.table_wcu_quota / share
        return Bucket(rate, max(rate * self.p.quota_burst, 2 * 100 * 2))

    # ------------------------------------------------------------------ helpers
    def in_window(self, at: float | None = None) -> bool:
        at = self.clock.now if at is None else at
        return self.window[0] <= at < self.window[1]

    def busy(self, stage: str, started: float) -> None:
        """An invocation of ``stage`` ran from ``started`` to now: its part inside the window."""
        end = self.clock.now
        overlap = max(0.0, min(end, self.window[1]) - max(started, self.window[0]))
        if overlap:
            self.stats.count(self.stats.busy, stage, overlap)

    def acquire(self, stage: str, units: float) -> bool:
        """``units`` of concurrency for an invocation of ``stage`` (the reduce's from its reserved concurrency)."""
        pool = self.reserved if stage == "reduce" else self.unreserved
        if pool.free < units - 1e-9:
            self.stats.count(self.stats.invocation_throttles, stage)  # type: ignore[arg-type]
            return False
        pool.free -= units
        flying = self.in_flight[stage] = self.in_flight.get(stage, 0.0) + units
        self.stats.peak[stage] = max(self.stats.peak.get(stage, 0.0), flying)
        return True

    def release(self, stage: str, units: float) -> None:
        (self.reserved if stage == "reduce" else self.unreserved).free += units
        self.in_flight[stage] -= units

    def throttled(self, refusals: int) -> float:
        """How long a lane or poller refused concurrency ``refusals`` times in a row waits: ``throttle_backoff``
        doubling up to ``throttle_backoff_cap``, with equal jitter (not published for stream pollers)."""
        ceiling = min(self.p.throttle_backoff_cap, self.p.throttle_backoff * 2 ** (refusals - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def cpu(self, stage: str, per_item: float, items: int) -> float:
        """Seconds of CPU for ``items`` at ``per_item`` on one core, at the function's share of a vCPU."""
        memory = getattr(self.p, f"{stage}_memory")
        return per_item * items / self.p.cpu_share(memory)

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

    # ------------------------------------------------------------------ readers and lanes
    def gather(self, lane: Lane, cursor: int, batch_size: int, window: float, poll: float) -> float | int:
        """How many records to invoke with now (an int), or how long to wait before looking again (a float)."""
        pending = len(lane.records) - cursor
        if pending == 0:
            return float(poll)
        now = self.clock.now
        if pending >= batch_size or now >= lane.times[cursor] + window or now > self.end_of_load:
            return min(pending, batch_size)
        return float(min(poll, lane.times[cursor] + window - now))

    def reader(self, shard: Shard, route: Callable[[object], Lane | None], limits: ReadLimits) -> Process:
        """A mapping's poller of one shard: GetRecords after GetRecords within their limits, each record read put
        on the lane ``route`` gives it (None: dropped by the mapping's filter, after being read)."""
        position = 0
        while True:
            now = self.clock.now
            end = shard.readable(now, position)
            count = limits.take(shard, position, end, now)
            for i in range(position, position + count):
                lane = route(shard.records[i]) if shard.kinds[i] in limits.kinds else None
                if lane is not None:
                    lane.append(now, shard.records[i])
            position += count
            yield limits.busy_poll if count else limits.idle_poll

    # ------------------------------------------------------------------ producer
    def producer(self) -> Process:
        pending: list[tuple[int, Record]] = []
        if self.burst is not None:
            pending = [(self.new_message(), record) for record in self.burst]
            while pending:
                pending = self.put(pending)
                yield self.p.put_retry_delay
            return
        calls = self.traffic.calls()
        interval = self.traffic.records_per_call / (self.load / self.d.weight)
        # call k goes at a random moment of its own interval [k, k + 1) x interval: jittered, but the count sent
        # by any time stays within one call of the offered rate
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
        for entry in entries:
            record = entry[1]
            shard = record.shard(self.d.slice_shards)
            records, size = self.kinesis_in[shard]
            if records.available(now) >= 1 and size.available(now) >= record.size:
                records.level -= 1
                size.level -= record.size
                self.kinesis[shard].append(now + self.p.kinesis_propagation, entry, record.size, "record")
            else:
                refused.append(entry)
        self.stats.put_retries += len(refused)
        return refused

    def lane(self, lane: Lane, mapping: Mapping, invoke: Invoke) -> Process:
        """A lane of a mapping (or a shard's poller): a batch gathered, a unit of concurrency taken (or the lane backs
        off and tries again), the function invoked (``invoke`` gives the lane's next cursor), and again."""
        cursor = refusals = 0
        while True:
            ready = self.gather(lane, cursor, mapping.batch_size, mapping.window, mapping.poll)
            if isinstance(ready, float):
                yield ready
                continue
            if not self.acquire(mapping.stage, mapping.units):
                refusals += 1
                yield self.throttled(refusals)
                continue
            refusals = 0
            cursor = yield from invoke(lane, cursor, ready)

    # ------------------------------------------------------------------ the state stage
    def state_lane(self, lane: Lane) -> Process:
        """A lane of the Kinesis stream's mapping: the StateLambda, one invocation after another."""
        p = self.p
        mapping = Mapping("state", self.d.weight, p.state_batch_size, p.state_window, p.kinesis_busy_poll)
        return self.lane(lane, mapping, self.state_invocation)

    def state_invocation(self, lane: Lane, cursor: int, ready: int) -> Generator[float, None, int]:
        """One StateLambda invocation over ``ready`` records from ``cursor``: the newest version of each trade
        written, the messages up to the first failed record decided; the lane's next cursor."""
        p = self.p
        entries = lane.records[cursor : cursor + ready]
        started = self.clock.now
        yield p.invoke_overhead + self.cpu("state", p.state_cpu_per_record, ready)
        winners = newest_per_trade(record for _, record in entries)
        yield p.write_latency * math.ceil(len(winners) / p.write_concurrency)
        failed = yield from self.write_winners(list(winners))
        for trade, record in winners.items():
            if trade not in failed:
                self.write_state(record)
        first_failed = next((i for i, (_, r) in enumerate(entries) if r.TradeID in failed), None)
        self.decide(entries if first_failed is None else entries[:first_failed])
        self.busy("state", started)
        self.release("state", self.d.weight)
        if first_failed is None:
            return cursor + ready
        self.stats.failed_batches += 1
        return cursor + first_failed

    def write_winners(self, trades: list[str]) -> Generator[float, None, set[str]]:
        """One conditional write a trade against the StateTable, the throttled ones retried with the SDK's backoff
        up to its attempts; the trades whose write still failed (kept in the batch's order, not in a set: a set of
        strings iterates in an order that changes from one process to the next, and so would the run)."""
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
            self.decided_at.append(self.clock.now)
            self.wait_for(record.TradeID, record.Version, index)

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
            timestamp=Decimal(record.timestamp),
            old_version=stored.Version if stored is not None else None,
        )
        shard = self.state_stream[stable_hash(record.TradeID) % len(self.state_stream)]
        shard.append(self.clock.now + self.p.stream_propagation, change, STATE_RECORD_BYTES, "change")

    # ------------------------------------------------------------------ run
    def start_state_stage(self) -> None:
        p = self.p
        for shard in self.kinesis:
            kinesis = ReadLimits.kinesis(p)
            lanes = [Lane() for _ in range(p.state_parallelization)]

            def route(entry: object, lanes: list[Lane] = lanes) -> Lane:
                record: Record = entry[1]  # type: ignore[index]
                return lanes[record.hash_key % len(lanes)]

            self.clock.start(self.reader(shard, route, kinesis), self.rng.uniform(0, p.kinesis_idle_poll))
            for lane in lanes:
                self.clock.start(self.state_lane(lane), self.rng.uniform(0, p.kinesis_busy_poll))
        self.sim_lanes["state"] = len(self.kinesis) * p.state_parallelization

    def run(self) -> Result:
        from capacity.measure import measure

        self.clock.start(self.producer())
        self.start_state_stage()
        self.stages.start()
        end = self.p.load_seconds + self.p.drain_seconds
        self.clock.run(end)
        return measure(self, end)


@dataclass(frozen=True)
class Mapping:
    """What a lane of an event source mapping gathers and takes: its stage (its function's concurrency), the units
    of concurrency an invocation takes (the fleet's lanes it stands for), BatchSize, the batching window, polling."""

    stage: str
    units: float
    batch_size: int
    window: float
    poll: float


Invoke = Callable[[Lane, int, int], Generator[float, None, int]]  # (lane, cursor, ready) -> the lane's next cursor


@dataclass
class ReadLimits:
    """What one poller of a mapping reads: the kinds of record it passes on, GetRecords' limits, its polling."""

    kinds: frozenset[str]
    max_records: int
    max_bytes: int
    busy_poll: float
    idle_poll: float
    read_rate: Bucket | None = None  # bytes a second a Kinesis shard gives all its readers

    @classmethod
    def kinesis(cls, p: Params) -> ReadLimits:
        return cls(
            frozenset({"record"}),
            p.kinesis_get_records,
            p.kinesis_get_bytes,
            p.kinesis_busy_poll,
            p.kinesis_idle_poll,
            Bucket(p.shard_read_bytes_per_second),
        )

    @classmethod
    def stream(cls, p: Params, kinds: set[str]) -> ReadLimits:
        return cls(frozenset(kinds), p.stream_max_records, p.stream_max_bytes, p.stream_poll, p.stream_poll)

    def take(self, shard: Shard, start: int, end: int, now: float) -> int:
        """How many of the readable records one GetRecords returns: at most ``max_records`` and ``max_bytes``."""
        budget, byte_budget = self.max_records, self.max_bytes
        if self.read_rate is not None:
            byte_budget = min(byte_budget, int(self.read_rate.available(now)))
        count, used = 0, 0
        for i in range(start, min(end, start + max(0, budget))):
            size = shard.sizes[i]
            if used + size > byte_budget:
                break
            used += size
            count += 1
        if self.read_rate is not None:
            self.read_rate.level -= used
        return count


def one_lane(
    design: Design,
    records: Sequence[Record],
    batch_size: int,
    params: Params,
    traffic: WorkshopTraffic | None = None,
    plan_combine: Callable | None = None,
) -> Result:
    """These records sent at once through one shard, one lane and one StateTable partition, the aggregate batches
    filled to ``batch_size`` (batching windows longer than the run): no contention, no quota in the way."""
    from dataclasses import replace

    one = replace(
        params.raised(),
        state_parallelization=1,
        aggregate_parallelization=1,
        combine_parallelization=1,
        aggregate_batch_size=batch_size,
        aggregate_window=30.0,
        combine_window=30.0,
        reduce_window=30.0,
        warm_up=0.0,
        steady_seconds=60.0,
        drain_seconds=60.0,
    )
    # a partition each: one stream shard for the map, one for the reducer (one batch each)
    warm = {
        "StateTable": one.partition_wcu,
        "AggregateMarkerTable": one.partition_wcu,
        "PartialTable": one.partition_wcu,
    }
    deployment = Deployment(shards=1, weight=1, warm=warm, state_partitions=1)
    return Simulation(
        design,
        1,
        one,
        traffic or WorkshopTraffic(messages=[]),
        deployment=deployment,
        burst=records,
        plan_combine=plan_combine,
    ).run()
