"""The aggregate stage of each design, on the simulation's core (``capacity.model``):

* the map lanes on the StateTable's stream: the previous one-transaction design (``riskpipe.aggregation``: markers
  and aggregates in one transaction) or the map (``riskpipe.partials.plan_map``: markers and one partial);
* the combining level (``capacity.combine``), fed by a planning function (``riskpipe.partials.plan_combine``);
* the one reducer (``capacity.reduce``).

Transactions: one holds every item it touches for its duration; one that finds an item held is cancelled
(TransactionConflict) after a round trip and retried with the aggregate service's full-jitter backoff, up to its
attempts; a throttled one (a partition, an item or a table quota without the units) is retried with the SDK's
backoff; a condition that finds the work already done drops that part and tries the rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from capacity.deployment import REDUCE_TABLE
from capacity.engine import Bucket, Charge, Lane, Shard, Table, stable_hash, try_charge
from capacity.model import TRANSACTION_ITEM_WCU, Mapping, ReadLimits, sdk_backoff
from riskpipe.aggregation import SubBatch, TradeChain, TradeChange, plan_sub_batches, split_repeats
from riskpipe.config import AggregateSettings
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.partials import BY_PARTIAL, ONE_PARTITION, Partial, partial_of, plan_map

if TYPE_CHECKING:
    from capacity.model import Simulation

ORDER: tuple[str, ...] = AggregateSettings.model_fields["aggregation_order"].default
HOT_KEY = ("a", MESSAGE_COUNT_ID)  # the item every aggregate transaction of the one-transaction design touches
Attempt = Callable[[], Generator[float, None, str]]


class Transactions:
    """TransactWriteItems as DynamoDB runs them, and the aggregate service's loop around one."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def transact(
        self, keys: list[tuple], charges: list[Charge], applied: Callable[[], Any], hot: bool
    ) -> Generator[float, None, str]:
        """One attempt: 'conflict', 'applied' (a condition found work done), 'throttled' or 'committed'."""
        sim, p = self.sim, self.sim.p
        sim.stats.transactions += 1
        now = sim.clock.now
        if any(sim.locks.get(k, -1.0) > now for k in keys):
            sim.stats.conflicts += 1
            yield p.cancel_latency
            return "conflict"
        if applied():
            sim.stats.already_applied += 1
            yield p.cancel_latency
            return "applied"
        if not try_charge(charges, now):
            yield p.cancel_latency
            return "throttled"
        until = now + p.transaction_duration
        for k in keys:
            sim.locks[k] = until
        if hot:
            sim.stats.hot_item_busy += max(0.0, min(until, sim.window[1]) - max(now, sim.window[0]))
        yield p.transaction_duration
        sim.stats.committed += 1
        if hot and sim.in_window():
            sim.stats.hot_commits += 1
        return "committed"

    def apply_partials(
        self,
        transaction: Any,
        partials: list[Partial],
        deleted: set[str],
        replan: Callable[[Any, list[Partial], list[str]], Any],
        prepare: Callable[[Any], tuple[list[tuple], list[Charge]]],
        committed: Callable[[Any], None],
    ) -> Generator[float, None, bool]:
        """A transaction that deletes partials under ``attribute_exists`` (the combining lanes', the reducer's): one
        that finds some gone already is cancelled and planned again without them (``replan``: None if none is left)."""
        state = {"txn": transaction}

        def already() -> list[str]:
            return [pid for pid in state["txn"].partial_ids if pid in deleted]

        def drop() -> bool:
            rest = replan(state["txn"], partials, already())
            if rest is None:
                return False
            state["txn"] = rest
            return True

        def attempt() -> Generator[float, None, str]:
            keys, charges = prepare(state["txn"])
            outcome = yield from self.transact(keys, charges, already, hot=any(k[0] == "a" for k in keys))
            if outcome == "committed":
                committed(state["txn"])
            return outcome

        return (yield from self.apply_with_retries(attempt, drop))

    def backoff(self, conflicts: int) -> float:
        return self.sim.rng.uniform(0, min(1.0, 0.02 * 2**conflicts))  # AggregateService's full jitter

    def apply_with_retries(self, attempt: Attempt, on_applied: Callable[[], bool]) -> Generator[float, None, bool]:
        """Conflicts back off and retry up to transaction_max_attempts, throttling up to the SDK's attempts, an
        already applied part is dropped (``on_applied`` says whether anything is left)."""
        conflicts = throttles = 0
        p = self.sim.p
        while True:
            outcome = yield from attempt()
            if outcome == "committed":
                return True
            if outcome == "applied":
                if not on_applied():
                    return True
                continue
            if outcome == "conflict":
                conflicts += 1
                if conflicts >= p.transaction_max_attempts:
                    return False
                yield self.backoff(conflicts)
                continue
            throttles += 1
            self.sim.stats.throttle_retries += 1
            if throttles >= p.sdk_max_attempts:
                return False
            yield sdk_backoff(self.sim.rng, throttles)


class MarkedBatch:
    """A sub-batch on its way, and the per-trade markers that tell what of it is applied (the condition of every
    marker item in its transaction: ``attribute_not_exists(pk) OR AppliedVersion < :first``)."""

    def __init__(self, batch: SubBatch, markers: dict[tuple[int, str], int], replica: int) -> None:
        self.batch, self._markers, self._replica = batch, markers, replica

    def already(self) -> dict[str, int]:
        return {
            c.trade_id: v
            for c in self.batch.chains
            if (v := self._markers.get((self._replica, c.trade_id), -1)) >= c.first_version
        }

    def drop(self) -> bool:
        self.batch, _ = self.batch.without_applied(self.already())
        return bool(self.batch.chains)

    def commit(self) -> None:
        for chain in self.batch.chains:
            self._markers[(self._replica, chain.trade_id)] = chain.last_version


@dataclass
class Plans:
    """Plans of a lane's batch, kept: the replicas of the one-transaction design replay the same batches."""

    design_map: bool
    known: dict[tuple[int, int, int], tuple[list[SubBatch], dict[str, int], int]] = field(default_factory=dict)
    touched: dict[int, tuple[SubBatch, list[str]]] = field(default_factory=dict)

    def plan(self, lane: Lane, cursor: int, count: int) -> tuple[list[SubBatch], dict[str, int], int]:
        key = (id(lane), cursor, count)
        if key not in self.known:
            changes: list[TradeChange] = lane.records[cursor : cursor + count]
            unique, _ = split_repeats(changes)
            position = {c.sequence_number: i for i, c in enumerate(changes)}
            plan = plan_map(unique, ORDER) if self.design_map else plan_sub_batches(unique, ORDER)
            self.known[key] = (plan, position, len(changes))
        return self.known[key]

    def identifiers(self, batch: SubBatch) -> list[str]:
        """The aggregate items a sub-batch's transaction touches, ``message_count`` first."""
        known = self.touched.get(id(batch))
        if known is None or known[0] is not batch:
            known = self.touched[id(batch)] = (batch, [MESSAGE_COUNT_ID, *batch.deltas()])
        return known[1]


PartialSink = Callable[[Partial, list[tuple[str, int]]], None]


class AggregateLanes:
    """The StateTable stream's mapping: its pollers, its lanes (stream shards x ParallelizationFactor, a trade's
    changes on one lane) and, on them, the one-transaction design's aggregate function or the map."""

    def __init__(self, sim: Simulation, markers: Table, aggregates: Table, partial_table: Table | None) -> None:
        self.sim, self.markers, self.aggregates, self.partial_table = sim, markers, aggregates, partial_table
        self.tx = Transactions(sim)
        self.plans = Plans(design_map=sim.design.partials)
        self.marker_state: dict[tuple[int, str], int] = {}
        self.sink: PartialSink | None = None
        self.failures: dict[int, tuple[SubBatch, frozenset[str], int]] = {}

    def start(self) -> None:
        sim, p = self.sim, self.sim.p
        replicas = 1 if sim.design.partials else sim.d.weight
        for shard in sim.state_stream:
            lanes = [Lane() for _ in range(p.aggregate_parallelization)]

            def route(change: object, lanes: list[Lane] = lanes) -> Lane:
                return lanes[stable_hash(change.trade_id) // 7 % len(lanes)]  # type: ignore[attr-defined]

            sim.clock.start(sim.reader(shard, route, ReadLimits.stream(p, {"change"})), sim.rng.uniform(0, 0.25))
            for replica in range(replicas):
                for lane in lanes:
                    sim.clock.start(self.lane(lane, replica), sim.rng.uniform(0, p.stream_poll))
        sim.sim_lanes["map"] = len(sim.state_stream) * p.aggregate_parallelization * replicas

    def lane(self, lane: Lane, replica: int) -> Generator[float, None, None]:
        p = self.sim.p
        units = self.sim.d.weight if self.sim.design.partials else 1
        mapping = Mapping("map", units, p.aggregate_batch_size, p.aggregate_window, p.stream_poll)

        def invoke(lane: Lane, cursor: int, ready: int) -> Generator[float, None, int]:
            return self.invocation(lane, replica, units, cursor, ready)

        return self.sim.lane(lane, mapping, invoke)

    def invocation(
        self, lane: Lane, replica: int, units: float, cursor: int, ready: int
    ) -> Generator[float, None, int]:
        """One invocation of the map (or the one-transaction design's function): its plan applied; the lane's next
        cursor (the lowest change reported failed, delivered again with everything after it)."""
        sim, p = self.sim, self.sim.p
        started = sim.clock.now
        yield p.invoke_overhead + sim.cpu("aggregate", p.aggregate_cpu_per_record, ready)
        plan, position, count = self.plans.plan(lane, cursor, ready)
        lowest_failed = yield from self.apply_plan(plan, position, replica)
        sim.busy("map", started)
        sim.release("map", units)
        if lowest_failed is None:
            return cursor + count
        sim.stats.failed_batches += 1
        return cursor + lowest_failed

    def apply_plan(
        self, plan: list[SubBatch], position: dict[str, int], replica: int
    ) -> Generator[float, None, int | None]:
        """An invocation's sub-batches in order, each without the trades that already failed in it; the position
        in the batch of the lowest change reported failed, or None."""
        failed_trades: set[str] = set()
        failed_at: list[int] = []
        for planned in plan:
            failures = yield from self.apply_unblocked(planned, failed_trades, replica)
            if failures is planned.chains:
                trades, lowest = self.failed_whole(planned, position)
                failed_trades |= trades
                failed_at.append(lowest)
                continue
            for chain in failures:
                failed_trades.add(chain.trade_id)
                failed_at.append(position[chain.changes[0].sequence_number])
        return min(failed_at, default=None)

    def failed_whole(self, planned: SubBatch, position: dict[str, int]) -> tuple[frozenset[str], int]:
        known = self.failures.get(id(planned))
        if known is None or known[0] is not planned:
            trades = frozenset(c.trade_id for c in planned.chains)
            lowest = min(position[c.changes[0].sequence_number] for c in planned.chains)
            known = self.failures[id(planned)] = (planned, trades, lowest)
        return known[1], known[2]

    def apply_unblocked(
        self, planned: SubBatch, failed_trades: set[str], replica: int
    ) -> Generator[float, None, list[TradeChain]]:
        blocked, batch = without_trades(planned, failed_trades)
        ok = True
        if batch.chains:
            apply = self.apply_map(batch) if self.sim.design.partials else self.apply_current(batch, replica)
            ok = yield from apply
        if ok:
            return blocked
        return blocked + batch.chains if blocked else batch.chains

    def apply_current(self, batch: SubBatch, replica: int) -> Generator[float, None, bool]:
        """The one-transaction design: markers, the aggregates it moves and message_count in one transaction."""
        sim = self.sim
        marked = MarkedBatch(batch, self.marker_state, replica)
        prepared: list = [None, [], []]

        def attempt() -> Generator[float, None, str]:
            current = marked.batch
            if sim.locks.get(HOT_KEY, -1.0) > sim.clock.now:  # held: cancelled before its other items matter
                return (yield from self.tx.transact([HOT_KEY], [], marked.already, hot=True))
            if prepared[0] is not current:
                touched = self.plans.identifiers(current)
                keys: list[tuple] = [("a", i) for i in touched] + [("m", replica, c.trade_id) for c in current.chains]
                charges: list[Charge] = [
                    (self.markers, f"{replica}:{c.trade_id}", TRANSACTION_ITEM_WCU) for c in current.chains
                ]
                charges += [(self.aggregates, i, TRANSACTION_ITEM_WCU) for i in touched]
                prepared[:] = [current, keys, charges]
            outcome = yield from self.tx.transact(prepared[1], prepared[2], marked.already, hot=True)
            if outcome == "committed":
                marked.commit()
                sim.applied.append((sim.clock.now, current.message_count))
                if replica == 0:
                    for chain in current.chains:
                        sim.make_visible(chain.trade_id, chain.last_version)
            return outcome

        return (yield from self.tx.apply_with_retries(attempt, marked.drop))

    def apply_map(self, batch: SubBatch) -> Generator[float, None, bool]:
        """The map: the sub-batch's markers and its one partial in one transaction."""
        marked = MarkedBatch(batch, self.marker_state, 0)
        prepared: list = [None, None, [], []]
        assert self.partial_table is not None and self.sink is not None
        partials, sink, weight = self.partial_table, self.sink, self.sim.d.weight

        def attempt() -> Generator[float, None, str]:
            current = marked.batch
            if prepared[0] is not current:
                partial = partial_of(current)
                keys: list[tuple] = [("m", 0, c.trade_id) for c in current.chains] + [("p", partial.partial_id)]
                charges: list[Charge] = [(self.markers, c.trade_id, TRANSACTION_ITEM_WCU) for c in current.chains]
                charges.append((partials, partial.partial_id, put_units(partial, partials) * weight))
                prepared[:] = [current, partial, keys, charges]
            outcome = yield from self.tx.transact(prepared[2], prepared[3], marked.already, hot=False)
            if outcome == "committed":
                marked.commit()
                sink(prepared[1], [(c.trade_id, c.last_version) for c in current.chains])
            return outcome

        return (yield from self.tx.apply_with_retries(attempt, marked.drop))


def without_trades(planned: SubBatch, trades: set[str]) -> tuple[list[TradeChain], SubBatch]:
    """The chains of ``planned`` whose trade is in ``trades`` (they fail too), and the sub-batch without them."""
    if not trades:
        return [], planned
    blocked = [c for c in planned.chains if c.trade_id in trades]
    if not blocked:
        return [], planned
    return blocked, SubBatch([c for c in planned.chains if c not in blocked], planned.order)


def partial_size(partial: Partial, table: Table) -> int:
    """The partial item's size by DynamoDB's rules, as the map and the combining lanes write it into ``table`` (the
    ReduceTable keys it under one partition key, a table keyed by partial by its id)."""
    from capacity.sizes import partial_item_size

    return partial_item_size(partial, ONE_PARTITION if table.name == REDUCE_TABLE else BY_PARTIAL)


def put_units(partial: Partial, table: Table) -> int:
    """Write units of a partial's put (or delete) in a transaction on ``table``: 2 a started KB."""
    return TRANSACTION_ITEM_WCU * max(1, math.ceil(partial_size(partial, table) / 1024))


@dataclass
class Stages:
    """The aggregate stage of a design: its tables and components, started together."""

    tables: list[Table]
    components: list[Any]

    def start(self) -> None:
        for component in self.components:
            component.start()


def build_stages(sim: Simulation, plan_combine: Callable | None) -> Stages:
    """The design's aggregate stage on ``sim``: tables, map lanes, combining level, reducer."""
    from capacity.combine import CombiningLevel
    from capacity.reduce import Reducer

    p, d = sim.p, sim.d
    aggregates = Table("AggregateTable", sim.quota(), [Bucket(p.new_table_wcu)], hot_items=True)
    if not sim.design.partials:  # every aggregate lane of the fleet runs: its markers are the fleet's
        markers = Table(
            "AggregateMarkerTable",
            sim.quota(),
            [Bucket(p.partition_wcu) for _ in range(d.partitions("AggregateMarkerTable", p))],
        )
        lanes = AggregateLanes(sim, markers, aggregates, None)
        return Stages([markers, aggregates], [lanes])
    marker_partitions = max(1, math.ceil(d.partitions("AggregateMarkerTable", p) / d.weight))
    markers = sim.sliced_table("AggregateMarkerTable", marker_partitions)
    # The ReduceTable: every item under one partition key, so one partition and its 1,000 write units a second.
    reduce_table = Table(REDUCE_TABLE, sim.quota(), [Bucket(p.partition_wcu)])
    tables = [markers, aggregates]
    if sim.design.partial_table:  # keyed by partial: charged for the fleet, its partitions hashed evenly, as one
        partial_table = Table("PartialTable", sim.quota(), [Bucket(d.partitions("PartialTable", p) * p.partition_wcu)])
        tables.append(partial_table)
    reducer_input = partial_table if sim.design.spread else reduce_table
    if reducer_input is reduce_table:
        tables.append(reduce_table)
    reducer = Reducer(sim, aggregates, reducer_input)
    lanes = AggregateLanes(sim, markers, aggregates, partial_table if sim.design.partial_table else reduce_table)
    components: list[Any] = [lanes]
    if sim.design.combining:
        if plan_combine is None:
            raise ValueError("the combining level needs its planning function")
        combining = CombiningLevel(sim, partial_table, plan_combine, reducer, reduce_table)
        lanes.sink = combining.accept
        components.append(combining)
    else:
        lanes.sink = reducer.accept_map_partial
    components.append(reducer)
    return Stages(tables, components)


def shards_of(count: int) -> list[Shard]:
    return [Shard() for _ in range(count)]
