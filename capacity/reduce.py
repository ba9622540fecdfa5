"""The one reducer, as AWS runs its mapping: a poller per shard of the stream it reads (the ReduceTable's: one shard,
its items all under one partition key; in the alternative of partials spread over a table keyed by partial, a shard
per partition of it), each gathering its own batch (BatchSize, the batching window) and invoking the function,
whose reserved concurrency is 1. A poller that finds it busy is throttled, and tries again after a backoff (not
published for stream pollers: ``throttle_backoff`` doubling, an assumption). An invocation plans its batch with
``riskpipe.partials.plan_reduce`` and runs its transactions one after another (each moves ``message_count``).

It is simulated whole: every partial of the fleet reaches it. With the combining level off, the map's partials
(``weight`` copies of each of the slice's, under keys of their own); with it on, the combined partials (each of
the slice's stands for ``S / k`` of the fleet's, see ``capacity.combine``), beside every delete's REMOVE record that
its mapping's filter drops after reading it (the same table's stream). The fleet's
other lanes are not in step with the slice's: a copy reaches the stream at a moment of its own within the
producing mapping's batching window (the slice's own copy, whose messages are measured, at once).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from capacity.combine import REMOVE_RECORD_BYTES, Covers, PartialRecord, copies, copy_of
from capacity.engine import Charge, Lane, Shard, Table, stable_hash
from capacity.model import TRANSACTION_ITEM_WCU, Mapping, ReadLimits
from capacity.stages import Transactions, partial_size, put_units
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.partials import Partial, ReduceTransaction, plan_reduce, without_partials

if TYPE_CHECKING:
    from capacity.model import Simulation


class Reducer:
    def __init__(self, sim: Simulation, aggregates: Table, partial_table: Table) -> None:
        self.sim, self.aggregates, self.partial_table = sim, aggregates, partial_table
        self.shards = [Shard() for _ in range(sim.d.reducer_shards(sim.p, sim.design))]
        self.tx = Transactions(sim)
        self.deleted: set[str] = set()

    # ------------------------------------------------------------------ partials in
    def put(self, partial: Partial, covers: Covers, kind: str, spread: float = 0.0) -> None:
        """A partial on its shard of the stream; another lane's copy at a moment of its own (``spread``)."""
        at = self.sim.clock.now + self.sim.p.stream_propagation + (self.sim.rng.uniform(0, spread) if spread else 0.0)
        shard = self.shards[stable_hash(partial.partial_id) % len(self.shards)]
        shard.append(at, PartialRecord(partial, covers), partial_size(partial, self.partial_table), kind)

    def accept_map_partial(self, partial: Partial, covers: Covers) -> None:
        """A map partial of the slice (no combining level): it and the fleet's other lanes' copies of it."""
        spread = max(self.sim.p.aggregate_window, self.sim.p.stream_poll)
        for c in range(self.sim.d.weight):
            self.put(copy_of(partial, c), covers if c == 0 else [], "partial", spread if c else 0.0)

    def accept_combined(self, partial: Partial, covers: Covers, mean_copies: float) -> None:
        """A combined partial of the combining slice: it and the fleet's other combining lanes' copies of it."""
        spread = max(self.sim.p.combine_window, self.sim.p.stream_poll)
        for c in range(max(1, copies(self.sim.rng.random(), mean_copies))):
            self.put(copy_of(partial, c), covers if c == 0 else [], "combined", spread if c else 0.0)

    # ------------------------------------------------------------------ pollers
    def start(self) -> None:
        sim, p = self.sim, self.sim.p
        kind = "combined" if sim.design.combining else "partial"
        for shard in self.shards:
            lane = Lane()
            limits = ReadLimits.stream(p, {kind})
            sim.clock.start(sim.reader(shard, to_lane(lane), limits), sim.rng.uniform(0, 0.25))
            sim.clock.start(self.poller(shard, lane), sim.rng.uniform(0, p.stream_poll))
        sim.sim_lanes["reduce"] = p.reduce_reserved

    def poller(self, shard: Shard, lane: Lane) -> Generator[float, None, None]:
        """One shard's poller of the reduce's mapping: a batch, then an invocation if the reducer is free."""
        p = self.sim.p
        mapping = Mapping("reduce", 1, p.reduce_batch_size, p.reduce_window, p.stream_poll)

        def invoke(lane: Lane, cursor: int, ready: int) -> Generator[float, None, int]:
            return self.invocation(shard, lane, cursor, ready)

        return self.sim.lane(lane, mapping, invoke)

    def invocation(self, shard: Shard, lane: Lane, cursor: int, ready: int) -> Generator[float, None, int]:
        """One reduce invocation over ``ready`` partials: every transaction of its plan; the next cursor (the same
        batch again if a transaction failed: the deletes' conditions skip what was applied)."""
        sim, p = self.sim, self.sim.p
        started = sim.clock.now
        records: list[PartialRecord] = lane.records[cursor : cursor + ready]
        yield p.invoke_overhead + sim.cpu("reduce", p.reduce_cpu_per_partial, ready)
        by_id = {r.partial.partial_id: r for r in records}
        plan = plan_reduce(r.partial for r in records)
        if sim.in_window(started):
            for key, count in (("invocations", 1), ("partials", ready), ("transactions", len(plan))):
                sim.stats.count(sim.stats.reduce, key, count)
        failed = False
        for transaction in plan:
            ok = yield from self.apply(shard, transaction, by_id)
            failed = failed or not ok
        sim.busy("reduce", started)
        sim.release("reduce", 1)
        if failed:
            sim.stats.failed_batches += 1
            return cursor
        return cursor + ready

    def apply(
        self, shard: Shard, transaction: ReduceTransaction, by_id: dict[str, PartialRecord]
    ) -> Generator[float, None, bool]:
        """The aggregates moved and the partials deleted in one transaction (those gone already dropped:
        ``without_partials``)."""

        def prepare(txn: ReduceTransaction) -> tuple[list[tuple], list[Charge]]:
            keys: list[tuple] = [("a", i) for i in txn.deltas] + [("p", pid) for pid in txn.partial_ids]
            charges: list[Charge] = [(self.aggregates, i, TRANSACTION_ITEM_WCU) for i in txn.deltas]
            charges += [
                (self.partial_table, pid, put_units(by_id[pid].partial, self.partial_table)) for pid in txn.partial_ids
            ]
            return keys, charges

        partials = [by_id[i].partial for i in transaction.partial_ids]
        return (
            yield from self.tx.apply_partials(
                transaction,
                partials,
                self.deleted,
                without_partials,
                prepare,
                lambda t: self.committed(shard, t, by_id),
            )
        )

    def committed(self, shard: Shard, txn: ReduceTransaction, by_id: dict[str, PartialRecord]) -> None:
        sim = self.sim
        at = sim.clock.now + sim.p.stream_propagation
        sim.applied.append((sim.clock.now, int(txn.deltas.get(MESSAGE_COUNT_ID, 0))))
        self.deleted.update(txn.partial_ids)
        for pid in txn.partial_ids:
            record = by_id[pid]
            for trade, version in record.covers:
                sim.make_visible(trade, version)
            shard.append(at, None, REMOVE_RECORD_BYTES, "remove")
        if sim.in_window():
            sim.stats.count(sim.stats.reduce, "messages", int(txn.deltas.get(MESSAGE_COUNT_ID, 0)))


def to_lane(lane: Lane) -> Callable[[object], Lane]:
    """A route that puts every record read on ``lane`` (one lane a shard: the reducer's mapping has no parallelism)."""

    def route(_record: object) -> Lane:
        return lane

    return route
