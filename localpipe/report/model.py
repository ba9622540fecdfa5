"""The local pipeline's report: its model, and how it is built from ``RunRecord``, the narrow record of a run (what
was sent, what the tables hold at the end, what each part of the run counted). Its lines, in a rich table for
people and in JSON for tools, are ``render.py``'s."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from riskpipe.aggregation import compare_aggregates, expected_aggregates
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.models import RiskMessage
from riskpipe.versions import newest_per_trade

Rows = list[tuple[str, str]]


@dataclass(frozen=True)
class StateDecisions:
    """What the run knows of the StateLambda's decisions: ``outcomes`` by kind, the records given up, and the
    versions accepted (what ``message_count`` must count). The backend says how it knows them."""

    outcomes: Counter[str]
    exhausted: int
    accepted: int


class DecisionRows(Protocol):
    """The report's lines on the functions' decisions, as the backend saw them."""

    def state(self, report: PipelineReport) -> Rows: ...

    def aggregate(self, report: PipelineReport) -> Rows: ...


@dataclass
class PipelineReport:
    naive: bool
    sent: int
    distinct_messages: int
    trades: int
    poison_sent: int
    delivered: int
    invocations: int
    retried_batches: int
    bisections: int
    lost_checkpoints: int
    overlap_invocations: int
    outcomes: Counter[str]
    exhausted: int
    aggregate_delivered: int
    aggregate_applied: int
    aggregate_duplicates_skipped: int
    aggregate_exhausted: int
    transactions: int
    poison_in_queue: int
    state_failure_messages: int
    aggregate_failure_messages: int
    partials_written: int
    partials_applied: int
    partials_skipped: int
    partials_applied_twice: int
    partials_left: int  # still in the ReduceTable or the PartialTable once drained: must be 0
    reduce_transactions: int
    map_retried_batches: int
    reduce_retried_batches: int
    reduce_exhausted: int
    reduce_failure_messages: int
    stale_items: dict[str, tuple[int, int]]  # trade -> (highest version sent, version stored)
    aggregate_differences: dict[str, tuple[Decimal, Decimal]]
    message_count: Decimal
    aggregates: dict[str, Decimal]
    elapsed: float
    accepted: int  # versions the StateLambda accepted: message_count must equal it
    rows: DecisionRows  # the lines on the functions' decisions, from the backend that saw them
    state: dict[str, RiskMessage] = field(default_factory=dict)  # the StateTable as read at the end
    order: tuple[str, ...] = ()  # the aggregation order
    state_changes: int = 0  # versioned changes in the StateTable's stream (each must count once)
    throttled_calls: int = 0  # DynamoDB write calls refused by the fault plan (independent and in bursts)
    throttling_bursts: int = 0  # bursts of refusals started
    backoff_seconds: float = 0.0  # the functions' backoff as it would have been in real time (1/100 of it slept)
    details: dict[str, Any] = field(default_factory=dict)
    aggregate_set_aside: int = 0  # changes in the aggregate poison queue (refused by DynamoDB as invalid)
    # The combining lanes (the template's Combining "true"): every partial of the map combined once, each combined
    # partial applied by the reducer once.
    combining: bool = False
    partials_combined: int = 0  # the map's partials combined (by id, once)
    partials_combined_twice: int = 0  # must stay 0: a partial combined by two transactions
    combine_skipped: int = 0  # partials delivered again to the lanes, combined before: skipped
    combined_partials_written: int = 0
    combined_partials_applied: int = 0  # by the reducer
    combine_transactions: int = 0
    combine_retried_batches: int = 0
    combine_lost_checkpoints: int = 0
    combine_overlaps: int = 0  # batches a second consumer of the shard took too
    combine_exhausted: int = 0
    combine_failure_messages: int = 0

    @property
    def unaccounted(self) -> int:
        return self.sent - sum(self.outcomes.values()) - self.exhausted

    @property
    def state_exact(self) -> bool:
        return not self.stale_items

    @property
    def aggregates_exact(self) -> bool:
        return not self.aggregate_differences and self.message_count == self.accepted and self.partials_left == 0

    @property
    def exact(self) -> bool:
        return self.state_exact and self.aggregates_exact and self.unaccounted == 0


# ------------------------------------------------------------------ building


@dataclass(frozen=True)
class RunRecord:
    """What a run hands its report: what was sent, the tables as read at the end, and what each part counted.
    ``counts``: the mappings' and the recordings' figures, named as ``PipelineReport``'s fields."""

    naive: bool
    sent: int  # records put on the stream, poison included
    messages: Sequence[RiskMessage]  # the messages among them (poison is not one)
    state: dict[str, RiskMessage]  # the StateTable
    aggregates: dict[str, Decimal]  # the AggregateTable, message_count included
    order: tuple[str, ...]  # the aggregation order
    decisions: StateDecisions
    rows: DecisionRows
    state_changes: int
    elapsed: float
    throttled_calls: int
    throttling_bursts: int
    backoff_seconds: float
    counts: Mapping[str, Any]  # ints, named as the report's fields


def build_report(record: RunRecord) -> PipelineReport:
    """The report of a run: the tables as read at its end, against what was sent."""
    messages = record.messages
    latest = newest_per_trade(messages)
    stored = record.state
    aggregates = dict(record.aggregates)
    message_count = aggregates.pop(MESSAGE_COUNT_ID, Decimal(0))
    decisions = record.decisions
    return PipelineReport(
        naive=record.naive,
        sent=record.sent,
        distinct_messages=len({(m.TradeID, m.Version) for m in messages}),
        trades=len(latest),
        poison_sent=record.sent - len(messages),
        outcomes=decisions.outcomes,
        exhausted=decisions.exhausted,
        accepted=decisions.accepted,
        rows=record.rows,
        stale_items={
            trade: (message.Version, stored[trade].Version if trade in stored else -1)
            for trade, message in latest.items()
            if stored.get(trade) != message
        },
        aggregate_differences=compare_aggregates(expected_aggregates(messages, record.order), aggregates),
        message_count=message_count,
        aggregates=aggregates,
        elapsed=record.elapsed,
        state=stored,
        order=record.order,
        state_changes=record.state_changes,
        throttled_calls=record.throttled_calls,
        throttling_bursts=record.throttling_bursts,
        backoff_seconds=record.backoff_seconds,
        **record.counts,
    )
