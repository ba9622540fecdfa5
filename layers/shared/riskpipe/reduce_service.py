"""The reduce's domain (the reduce Lambda, one at a time): apply every partial to the aggregates exactly once.

Partials are summed into transactions of at most 100 items (``plan_reduce``), each deleting its partials under
``attribute_exists``. When a delete's condition fails, that partial was applied before (delivered again): it is
dropped and the rest retried (``without_partials``). A transaction conflict is retried with jittered backoff,
then its partials are reported as failures so Lambda delivers them again (the deletes make that safe).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from riskpipe.aggregate_store import TransactionConflictError
from riskpipe.aggregation import MESSAGE_COUNT_ID
from riskpipe.partials import Partial, ReduceTransaction, plan_reduce, without_partials
from riskpipe.reduce_store import PartialsGoneError


class ReduceWriter(Protocol):
    def apply(self, transaction: ReduceTransaction) -> None: ...


class PartialApplier(Protocol):
    """What the reduce handler needs of the domain: apply partials and say what became of each."""

    def apply(self, partials: Sequence[Partial]) -> ReduceOutcome: ...


@dataclass
class ReduceOutcome:
    applied: set[str] = field(default_factory=set)  # partial ids applied now
    skipped: set[str] = field(default_factory=set)  # applied before (delivered again): skipped
    failed: dict[str, BaseException] = field(default_factory=dict)
    transactions: int = 0
    conflicts: int = 0
    messages: int = 0  # message_count applied now

    def result_for(self, partial_id: str) -> str:
        if partial_id in self.failed:
            raise self.failed[partial_id]
        return "applied" if partial_id in self.applied else "skipped"


class ReduceService:
    def __init__(
        self,
        store: ReduceWriter,
        *,
        max_attempts: int = 5,
        max_items: int = 100,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._max_attempts = max_attempts
        self._max_items = max_items
        self._sleep = sleep
        self._rng = rng or random.Random()

    def apply(self, partials: Sequence[Partial]) -> ReduceOutcome:
        outcome = ReduceOutcome()
        for transaction in plan_reduce(partials, max_items=self._max_items):
            self._apply_transaction(transaction, partials, outcome)
        return outcome

    def _apply_transaction(
        self, planned: ReduceTransaction, partials: Sequence[Partial], outcome: ReduceOutcome
    ) -> None:
        transaction: ReduceTransaction | None = planned
        gone: set[str] = set()
        conflicts = 0
        while transaction is not None:
            try:
                outcome.transactions += 1
                self._store.apply(transaction)
            except PartialsGoneError as exc:
                if exc.partial_ids <= gone:  # the condition disagrees with what we dropped: do not loop, report
                    self._fail(transaction, exc, outcome)
                    return
                gone |= exc.partial_ids
                outcome.skipped |= exc.partial_ids
                transaction = without_partials(planned, partials, gone)
                continue
            except TransactionConflictError as exc:
                conflicts += 1
                outcome.conflicts += 1
                if conflicts >= self._max_attempts:
                    self._fail(transaction, exc, outcome)
                    return
                self._sleep(self._rng.uniform(0, min(1.0, 0.02 * 2**conflicts)))  # full jitter
                continue
            except Exception as exc:  # noqa: BLE001 - reported per record, retried by Lambda
                self._fail(transaction, exc, outcome)
                return
            outcome.applied.update(transaction.partial_ids)
            outcome.messages += int(transaction.deltas.get(MESSAGE_COUNT_ID, 0))
            return

    @staticmethod
    def _fail(transaction: ReduceTransaction, exc: BaseException, outcome: ReduceOutcome) -> None:
        for partial_id in transaction.partial_ids:
            outcome.failed[partial_id] = exc
