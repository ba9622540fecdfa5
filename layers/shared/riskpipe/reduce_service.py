"""The reduce's domain (the reduce Lambda, one at a time): apply every partial to the aggregates exactly once.

Partials are summed into transactions of at most 100 items (``plan_reduce``), each ADDing the sums to the
aggregates and deleting its partials under ``attribute_exists``. What happens when a delete's condition fails (the
partial was applied before: dropped, the rest re-planned with ``without_partials``), when a transaction conflicts
(backoff, then reported for redelivery) or when DynamoDB refuses a sum (the partial set aside) is shared with the
combining lanes: ``partials_service.py``. With the combining level on, the reducer's partials are combined ones,
each standing for up to 99 of the map's; nothing changes here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from riskpipe.partials import Partial, ReduceTransaction, plan_reduce, without_partials
from riskpipe.partials_service import PartialApplier, PartialsOutcome, PartialsService

__all__ = ["PartialApplier", "ReduceOutcome", "ReduceService"]

ReduceOutcome = PartialsOutcome  # by partial id: applied, skipped (applied before), set aside, failed


@dataclass(eq=False)  # a service, compared by identity
class ReduceService(PartialsService[ReduceTransaction]):
    def plan(self, partials: Iterable[Partial]) -> list[ReduceTransaction]:
        return plan_reduce(partials, max_items=self.max_items)

    def replan(
        self, planned: ReduceTransaction, partials: Sequence[Partial], gone: set[str]
    ) -> ReduceTransaction | None:
        return without_partials(planned, partials, gone)
