"""The map's domain (the aggregate Lambda): turn every accepted StateTable version into a partial result exactly
once.

For each transaction-sized sub-batch (``plan_map``: its markers and ONE partial): try the transaction; when
markers show some changes already applied (a redelivery, a retried batch, a crash after the write), drop exactly
those and try the rest; when a concurrent transaction conflicts, back off and retry, then give up and report the
sub-batch's records as failures so Lambda delivers them again (the markers make that safe).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from riskpipe.aggregate_store import AlreadyAppliedError, TransactionConflictError
from riskpipe.aggregation import SubBatch, TradeChange, split_repeats
from riskpipe.partials import plan_map

Planner = Callable[..., list[SubBatch]]  # (changes, order, *, max_items) -> transaction-sized sub-batches


class AggregateWriter(Protocol):
    def apply(self, batch: SubBatch) -> None: ...


class ChangeApplier(Protocol):
    """What the handler needs of the domain: apply a batch of changes and say what became of each."""

    def apply(self, changes: Sequence[TradeChange]) -> AggregateOutcome: ...


@dataclass
class AggregateOutcome:
    applied: set[str] = field(default_factory=set)  # sequence numbers applied now
    duplicates: set[str] = field(default_factory=set)  # already applied before: skipped
    ignored: set[str] = field(default_factory=set)  # carry no trade state (REMOVE, key-only INSERT)
    failed: dict[str, BaseException] = field(default_factory=dict)
    transactions: int = 0
    conflicts: int = 0
    partials: int = 0  # transactions committed: each wrote one partial

    def result_for(self, sequence_number: str) -> str:
        if sequence_number in self.failed:
            raise self.failed[sequence_number]
        if sequence_number in self.applied:
            return "applied"
        if sequence_number in self.duplicates:
            return "duplicate"
        return "ignored"


class AggregateService:
    def __init__(
        self,
        store: AggregateWriter,
        order: Sequence[str],
        *,
        max_attempts: int = 5,
        max_items: int = 100,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        plan: Planner = plan_map,
    ) -> None:
        self._store = store
        self._order = tuple(order)
        self._max_attempts = max_attempts
        self._max_items = max_items
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._plan = plan

    def apply(self, changes: Sequence[TradeChange]) -> AggregateOutcome:
        outcome = AggregateOutcome(ignored={c.sequence_number for c in changes if not c.applies})
        unique, repeats = split_repeats(changes)
        outcome.duplicates.update(c.sequence_number for c in repeats)
        failed_trades: dict[str, BaseException] = {}
        for batch in self._plan(unique, self._order, max_items=self._max_items):
            # A trade whose earlier changes failed must not move on: its marker would then hide them.
            blocked = [chain for chain in batch.chains if chain.trade_id in failed_trades]
            for chain in blocked:
                for change in chain.changes:
                    outcome.failed[change.sequence_number] = failed_trades[chain.trade_id]
            batch = SubBatch([c for c in batch.chains if c.trade_id not in failed_trades], batch.order)
            error = self._apply_sub_batch(batch, outcome)
            if error is not None:
                failed_trades.update({chain.trade_id: error for chain in batch.chains})
        return outcome

    def _apply_sub_batch(self, batch: SubBatch, outcome: AggregateOutcome) -> BaseException | None:
        """Apply one sub-batch; return the error that made it fail, if it did."""
        conflicts = 0
        while batch.chains:
            try:
                outcome.transactions += 1
                self._store.apply(batch)
            except AlreadyAppliedError as exc:
                batch, dropped = batch.without_applied(exc.applied_versions)
                if not dropped:  # the markers disagree with the condition: do not loop, report
                    return self._fail(batch, exc, outcome)
                outcome.duplicates.update(dropped)
                continue
            except TransactionConflictError as exc:
                conflicts += 1
                outcome.conflicts += 1
                if conflicts >= self._max_attempts:
                    return self._fail(batch, exc, outcome)
                self._sleep(self._rng.uniform(0, min(1.0, 0.02 * 2**conflicts)))  # full jitter
                continue
            except Exception as exc:  # noqa: BLE001 - reported per record, retried by Lambda
                return self._fail(batch, exc, outcome)
            outcome.applied.update(batch.sequence_numbers)
            outcome.partials += 1
            return None
        return None

    @staticmethod
    def _fail(batch: SubBatch, exc: BaseException, outcome: AggregateOutcome) -> BaseException:
        for sequence_number in batch.sequence_numbers:
            outcome.failed[sequence_number] = exc
        return exc
