"""What the local run records of the functions' decisions, and how their Powertools output is kept quiet.

The recording decorators wrap each function's domain service (its collaborator): the handler runs as deployed,
and the run sees every decision it made, record by record, for the report (``record.py`` counts them)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from riskpipe.aggregate_service import AggregateOutcome, ChangeApplier
from riskpipe.aggregation import TradeChange
from riskpipe.models import WriteOutcome
from riskpipe.partials import Partial
from riskpipe.reduce_service import PartialApplier, ReduceOutcome
from riskpipe.state_service import BatchDecider, BatchDecisions, StreamRecord


class RecordingDecider:
    """Keeps the first decided outcome of every Kinesis record ("shard:sequence"): its fate, whatever the
    redeliveries."""

    def __init__(self, inner: BatchDecider) -> None:
        self.inner = inner
        self.first_outcome: dict[str, WriteOutcome] = {}
        self.batches = 0  # batches handed to the StateLambda's domain: each may have written the table
        self.throttled_retries = 0

    def decide(self, records: Sequence[StreamRecord], time_left: float | None = None) -> BatchDecisions:
        self.batches += 1
        decisions = self.inner.decide(records, time_left)
        self.throttled_retries += decisions.throttled_retries
        for record in records:  # sequence numbers are unique per shard only
            decision = decisions.by_sequence[record.sequence_number]
            if decision.outcome is not None:
                self.first_outcome.setdefault(f"{record.shard_id}:{record.sequence_number}", decision.outcome)
        return decisions


class RecordingApplier:
    def __init__(self, inner: ChangeApplier) -> None:
        self.inner = inner
        self.applied: set[str] = set()
        self.duplicates_skipped = 0
        self.transactions = 0
        self.conflicts = 0
        self.partials = 0

    def apply(self, changes: Sequence[TradeChange]) -> AggregateOutcome:
        outcome = self.inner.apply(changes)
        self.applied |= outcome.applied
        self.duplicates_skipped += len(outcome.duplicates)
        self.transactions += outcome.transactions
        self.conflicts += outcome.conflicts
        self.partials += outcome.partials
        return outcome


class RecordingReducer:
    """The reduce's decisions: partials applied once (by id), skipped as delivered again, its transactions."""

    def __init__(self, inner: PartialApplier) -> None:
        self.inner = inner
        self.applied: set[str] = set()
        self.applied_twice = 0  # must stay 0: a partial applied by two transactions
        self.skipped = 0
        self.transactions = 0
        self.conflicts = 0

    def apply(self, partials: Sequence[Partial]) -> ReduceOutcome:
        outcome = self.inner.apply(partials)
        self.applied_twice += len(self.applied & outcome.applied)
        self.applied |= outcome.applied
        self.skipped += len(outcome.skipped)
        self.transactions += outcome.transactions
        self.conflicts += outcome.conflicts
        return outcome


@contextmanager
def quiet_powertools(emit_metrics: bool) -> Iterator[None]:
    """The functions print their metrics (EMF) only when asked to, whatever the environment says."""
    saved = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false" if emit_metrics else "true"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = saved


def metrics_cleared(module: Any, handler: Callable[[dict, Any], Any]) -> Callable[[dict, Any], Any]:
    """The handler, its EMF metrics dropped after each call instead of printed: Powertools keeps the metric set
    when POWERTOOLS_METRICS_DISABLED is on (it only clears after printing), so clear it ourselves."""

    def invoke(event: dict, context: Any) -> Any:
        try:
            return handler(event, context)
        finally:
            module.metrics.clear_metrics()

    return invoke


@dataclass(frozen=True)
class Recorders:
    """The recordings around the three functions' services, which the in-process handlers are built around."""

    state: RecordingDecider
    aggregate: RecordingApplier
    reduce: RecordingReducer
