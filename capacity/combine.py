"""The combining level, as the template deploys it (``Combining`` "true"): a mapping on the PartialTable's stream,
its shards x CombineParallelizationFactor lanes, each batch of the map's partials planned by the planning function
it is given (``riskpipe.partials.plan_combine``): each transaction deletes up to 99 partials under condition and
puts one combined partial into the ReduceTable (one partition key, so one partition and one stream shard), whose
stream the reducer's mapping reads.

It runs per slice, as the rest: the fleet's PartialTable has ``S`` stream shards (one per partition), the slice
simulates ``k`` of them (``S / weight`` rounded, at least one). Each of the slice's map partials is put on them
``k x weight / S`` times on average (copies under keys of their own), so that a simulated shard carries what a
shard of the fleet carries; each combined partial they make stands for ``S / k`` of the fleet's, all of which
reach the one reducer. Every record of a shard is read by its pollers, the deletes' REMOVE records too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from capacity.engine import Charge, Lane, Shard, Table, stable_hash
from capacity.model import Mapping, ReadLimits
from capacity.stages import Transactions, partial_size, put_units
from riskpipe.partials import CombineTransaction, Partial, combine_without

if TYPE_CHECKING:
    from capacity.model import Simulation
    from capacity.reduce import Reducer

REMOVE_RECORD_BYTES = 120  # a REMOVE record of a NEW_IMAGE stream: keys and metadata only
Covers = list[tuple[str, int]]  # (trade, version) a partial makes visible; empty for the fleet's other copies
PlanCombine = Callable[[Sequence[Partial]], list[CombineTransaction]]


@dataclass(frozen=True)
class PartialRecord:
    """A partial on a stream, with what it makes visible once applied (only the slice's own copy says)."""

    partial: Partial
    covers: Covers


def copies(rng_value: float, mean: float) -> int:
    """A whole number of copies whose mean over many is ``mean`` (random rounding)."""
    whole = math.floor(mean)
    return whole + (1 if rng_value < mean - whole else 0)


def copy_of(partial: Partial, copy: int) -> Partial:
    """The partial as another lane of the fleet would have written it: the same content, a key of its own."""
    if copy == 0:
        return partial
    return replace(partial, partial_id=f"{partial.partial_id}~{copy}")


class CombiningLevel:
    def __init__(
        self, sim: Simulation, partial_table: Table, plan: PlanCombine, reducer: Reducer, combined_table: Table
    ) -> None:
        p, d = sim.p, sim.d
        self.sim, self.partial_table, self.plan, self.reducer = sim, partial_table, plan, reducer
        self.combined_table = combined_table  # the ReduceTable: one partition key
        fleet_shards = d.partitions("PartialTable", p)
        self.k = max(1, round(fleet_shards / d.weight))
        self.copies_in = self.k * d.weight / fleet_shards
        self.copies_out = fleet_shards / self.k
        self.shards = [Shard() for _ in range(self.k)]
        self.tx = Transactions(sim)
        self.deleted: set[str] = set()

    # ------------------------------------------------------------------ the map's partials in
    def accept(self, partial: Partial, covers: Covers) -> None:
        """A map partial committed in the slice: its copies on the simulated shards of the PartialTable's stream."""
        sim = self.sim
        at = sim.clock.now + sim.p.stream_propagation
        size = partial_size(partial, self.partial_table)
        for c in range(copies(sim.rng.random(), self.copies_in)):
            copy = copy_of(partial, c)
            shard = self.shards[stable_hash(copy.partial_id) % self.k]
            shard.append(at, PartialRecord(copy, covers if c == 0 else []), size, "partial")

    # ------------------------------------------------------------------ lanes
    def start(self) -> None:
        sim, p = self.sim, self.sim.p
        for shard in self.shards:
            lanes = [Lane() for _ in range(p.combine_parallelization)]

            def route(record: object, lanes: list[Lane] = lanes) -> Lane:
                key = record.partial.partial_id  # type: ignore[attr-defined]
                return lanes[stable_hash(key) // 7 % len(lanes)]

            limits = ReadLimits.stream(p, {"partial"})
            sim.clock.start(sim.reader(shard, route, limits), sim.rng.uniform(0, p.stream_poll))
            for lane in lanes:
                sim.clock.start(self.lane(lane), sim.rng.uniform(0, p.stream_poll))
        sim.sim_lanes["combine"] = self.k * p.combine_parallelization

    def lane(self, lane: Lane) -> Generator[float, None, None]:
        p = self.sim.p
        mapping = Mapping("combine", self.copies_out, p.combine_batch_size, p.combine_window, p.stream_poll)
        return self.sim.lane(lane, mapping, self.invocation)

    def invocation(self, lane: Lane, cursor: int, ready: int) -> Generator[float, None, int]:
        """One combine invocation: every transaction of its plan; the lane's next cursor (the batch again if one
        failed: the partials it combined are refused by their deletes' conditions then)."""
        sim, p = self.sim, self.sim.p
        started = sim.clock.now
        records: list[PartialRecord] = lane.records[cursor : cursor + ready]
        yield p.invoke_overhead + sim.cpu("combine", p.combine_cpu_per_partial, ready)
        by_id = {r.partial.partial_id: r for r in records}
        failed = False
        for transaction in self.plan([r.partial for r in records]):
            ok = yield from self.apply(transaction, by_id)
            failed = failed or not ok
        sim.busy("combine", started)
        sim.release("combine", self.copies_out)
        if failed:
            sim.stats.failed_batches += 1
            return cursor
        return cursor + ready

    def apply(self, transaction: CombineTransaction, by_id: dict[str, PartialRecord]) -> Generator[float, None, bool]:
        """The partials deleted and the combined partial put in one transaction (the partials gone already
        dropped: ``combine_without``)."""
        scale = self.copies_out

        def prepare(txn: CombineTransaction) -> tuple[list[tuple], list[Charge]]:
            keys: list[tuple] = [("p", pid) for pid in txn.partial_ids] + [("p", txn.combined.partial_id)]
            charges: list[Charge] = [
                (self.partial_table, pid, put_units(by_id[pid].partial, self.partial_table) * scale)
                for pid in txn.partial_ids
            ]
            charges.append(
                (self.combined_table, txn.combined.partial_id, put_units(txn.combined, self.combined_table) * scale)
            )
            return keys, charges

        partials = [by_id[i].partial for i in transaction.partial_ids]
        return (
            yield from self.tx.apply_partials(
                transaction, partials, self.deleted, combine_without, prepare, lambda t: self.committed(t, by_id)
            )
        )

    def committed(self, txn: CombineTransaction, by_id: dict[str, PartialRecord]) -> None:
        """The partials are gone (their REMOVE records on their shards), the combined partial is on its way."""
        sim = self.sim
        at = sim.clock.now + sim.p.stream_propagation
        self.deleted.update(txn.partial_ids)
        for pid in txn.partial_ids:
            self.shards[stable_hash(pid) % self.k].append(at, None, REMOVE_RECORD_BYTES, "remove")
        covers = [c for pid in txn.partial_ids for c in by_id[pid].covers]
        combined = txn.combined
        if sim.in_window():
            sim.stats.count(sim.stats.reduce, "combined", 1)
            sim.stats.count(sim.stats.reduce, "combined_partials", len(txn.partial_ids))
        self.reducer.accept_combined(combined, covers, self.copies_out)
