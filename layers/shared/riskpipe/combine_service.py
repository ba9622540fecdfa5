"""The combining lanes' domain (the combine Lambda, any number at once, between the map and the one reducer): turn
up to 99 partials of the map into ONE combined partial, in one transaction, each partial exactly once.

A transaction (``plan_combine``) deletes its partials under ``attribute_exists`` and puts the combined partial
under ``attribute_not_exists``, keyed by the first deleted partial's key and marked as combined, so that only the
reducer receives it. That key is written only by the transaction that deletes the partial it is named after, and a
partial is deleted once: a partial delivered again (a lost checkpoint, a crash after the transaction, a second
consumer of the shard) fails its delete's condition, is skipped, and the rest is combined under the first remaining
partial's key (``combine_without``). Conflicts, refusals and set-aside are the reduce's: ``partials_service.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from riskpipe.partials import CombineTransaction, Partial, combine_without, plan_combine
from riskpipe.partials_service import PartialsOutcome, PartialsService

CombineOutcome = PartialsOutcome  # by partial id: applied (combined now), skipped (combined before), ...


@dataclass(eq=False)  # a service, compared by identity
class CombineService(PartialsService[CombineTransaction]):
    def plan(self, partials: Iterable[Partial]) -> list[CombineTransaction]:
        return plan_combine(partials, max_items=self.max_items)

    def replan(
        self, planned: CombineTransaction, partials: Sequence[Partial], gone: set[str]
    ) -> CombineTransaction | None:
        return combine_without(planned, partials, gone)
