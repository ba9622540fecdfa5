"""The local pipeline's report: its model, how a run builds it, and its two renderers (a rich table for people,
JSON for tools). A line of the report is changed here, and only here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console

from localpipe.report.tree import aggregate_tree
from localpipe.stack.lambda_context import AGGREGATE_FUNCTION, REDUCE_FUNCTION, STATE_FUNCTION
from riskpipe.aggregation import MESSAGE_COUNT_ID, compare_aggregates, expected_aggregates
from riskpipe.models import RiskMessage
from riskpipe.versions import newest_per_trade

if TYPE_CHECKING:
    from localpipe.faults.scenario import Send
    from localpipe.pipeline.pipeline import LocalPipeline

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
    partials_left: int  # still in the PartialTable once drained: must be 0
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


def build_report(pipeline: LocalPipeline, sends: Sequence[Send], elapsed: float) -> PipelineReport:
    """The report of a run that sent ``sends``: the tables as read now, against what was sent."""
    messages = [s.message for s in sends if s.message is not None]
    latest = newest_per_trade(messages)
    stored = pipeline.read_state()
    aggregates = pipeline.read_aggregates()
    message_count = aggregates.pop(MESSAGE_COUNT_ID, Decimal(0))
    state_changes = pipeline.count_state_changes()
    decisions = pipeline.backend.decisions(pipeline.state_mapping.stats, pipeline.state_recorder, state_changes)
    session = pipeline.function_session
    return PipelineReport(
        naive=pipeline.options.naive,
        sent=len(sends),
        distinct_messages=len({(m.TradeID, m.Version) for m in messages}),
        trades=len(latest),
        poison_sent=sum(1 for s in sends if s.message is None),
        outcomes=decisions.outcomes,
        exhausted=decisions.exhausted,
        accepted=decisions.accepted,
        rows=pipeline.backend.rows,
        stale_items={
            trade: (message.Version, stored[trade].Version if trade in stored else -1)
            for trade, message in latest.items()
            if stored.get(trade) != message
        },
        aggregate_differences=compare_aggregates(expected_aggregates(messages, pipeline.aggregation_order), aggregates),
        message_count=message_count,
        aggregates=aggregates,
        elapsed=elapsed,
        state=stored,
        order=pipeline.aggregation_order,
        state_changes=state_changes,
        throttled_calls=session.throttling.refused,
        throttling_bursts=session.throttling.bursts_started,
        backoff_seconds=session.time.now(),
        **_delivery_figures(pipeline),
        **_decision_figures(pipeline),
    )


def _delivery_figures(pipeline: LocalPipeline) -> dict[str, Any]:
    """What the three mappings delivered, retried and gave up."""
    state, aggregate, reduce = (m.stats for m in pipeline.mappings)
    return {
        "delivered": state.records_delivered,
        "invocations": state.invocations,
        "retried_batches": state.function_errors + state.partial_failures,
        "bisections": state.bisections,
        "lost_checkpoints": state.lost_checkpoints + aggregate.lost_checkpoints + reduce.lost_checkpoints,
        "overlap_invocations": state.overlap_invocations,
        "aggregate_delivered": aggregate.records_delivered,
        "aggregate_exhausted": len(aggregate.records_to_destination),
        "map_retried_batches": aggregate.function_errors + aggregate.partial_failures,
        "reduce_retried_batches": reduce.function_errors + reduce.partial_failures,
        "reduce_exhausted": len(reduce.records_to_destination),
    }


def _decision_figures(pipeline: LocalPipeline) -> dict[str, Any]:
    """The map's and the reduce's decisions as recorded, and what the queues and the PartialTable hold."""
    applier, reducer = pipeline.aggregate_recorder, pipeline.reduce_recorder
    depth = pipeline.queue_depth
    return {
        "aggregate_applied": len(applier.applied),
        "aggregate_duplicates_skipped": applier.duplicates_skipped,
        "transactions": applier.transactions,
        "partials_written": applier.partials,
        "partials_applied": len(reducer.applied),
        "partials_skipped": reducer.skipped,
        "partials_applied_twice": reducer.applied_twice,
        "reduce_transactions": reducer.transactions,
        "partials_left": pipeline.count_partials_left(),
        "poison_in_queue": depth(pipeline.poison_queue_url),
        "state_failure_messages": depth(pipeline.failure_queue(STATE_FUNCTION)),
        "aggregate_failure_messages": depth(pipeline.failure_queue(AGGREGATE_FUNCTION)),
        "reduce_failure_messages": depth(pipeline.failure_queue(REDUCE_FUNCTION)),
        "aggregate_set_aside": depth(pipeline.aggregate_poison_queue_url),
    }


# ------------------------------------------------------------------ rendering


def report_json(report: PipelineReport) -> dict[str, Any]:
    partials = ("written", "applied", "skipped", "applied_twice", "left")
    return {
        "naive": report.naive,
        "sent": report.sent,
        "delivered": report.delivered,
        "outcomes": dict(report.outcomes),
        "exhausted": report.exhausted,
        "aggregate_set_aside": report.aggregate_set_aside,
        "aggregate_exhausted": report.aggregate_exhausted,
        "failure_destination_messages": [report.state_failure_messages, report.aggregate_failure_messages],
        "retried_batches": report.retried_batches,
        "throttled_calls": report.throttled_calls,
        "throttling_bursts": report.throttling_bursts,
        "backoff_seconds": round(report.backoff_seconds, 1),
        "unaccounted": report.unaccounted,
        "state_exact": report.state_exact,
        "aggregates_exact": report.aggregates_exact,
        "stale_items": len(report.stale_items),
        "aggregate_differences": {k: [str(a), str(b)] for k, (a, b) in report.aggregate_differences.items()},
        "message_count": str(report.message_count),
        "partials": {
            **{name: getattr(report, f"partials_{name}") for name in partials},
            "reduce_transactions": report.reduce_transactions,
        },
        "elapsed_seconds": round(report.elapsed, 2),
    }


def report_rows(report: PipelineReport) -> Rows:
    """The report's table, line by line."""
    r = report
    throttled = f"{r.throttled_calls:,} ({r.throttling_bursts:,}) / {r.backoff_seconds:,.0f} s"
    return [
        ("records sent to the stream", f"{r.sent:,} ({r.poison_sent} poison)"),
        ("distinct trade versions / trades", f"{r.distinct_messages:,} / {r.trades:,}"),
        (
            "delivered to StateLambda (with retries)",
            f"{r.delivered:,} in {r.invocations:,} invocations, {r.retried_batches} retried",
        ),
        (
            "bisections / lost checkpoints / overlaps",
            f"{r.bisections} / {r.lost_checkpoints} / {r.overlap_invocations}",
        ),
        *r.rows.state(r),
        (
            "exhausted -> on-failure destinations",
            f"{r.exhausted} state, {r.aggregate_exhausted} map, {r.reduce_exhausted} reduce",
        ),
        *([("DynamoDB write calls throttled (bursts) / backoff", throttled)] if r.throttled_calls else []),
        ("unaccounted records", str(r.unaccounted)),
        *r.rows.aggregate(r),
        ("partials left unapplied in the PartialTable", str(r.partials_left)),
        ("aggregate changes set aside (refused as invalid)", f"{r.aggregate_set_aside:,}"),
        ("time taken", f"{r.elapsed:.1f} s"),
    ]


def print_report(report: PipelineReport, console: Console) -> None:
    """The rich table, the AggregateTable as a tree, and the verdicts on both tables."""
    from rich.table import Table

    mode = "NAIVE (read-then-write, ADD per record)" if report.naive else "exactly-once"
    table = Table(title=f"Local pipeline report: {mode}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("figure", justify="right")
    for what, figure in report_rows(report):
        table.add_row(what, figure)
    console.print(table)
    title = f"AggregateTable ({' > '.join(report.order)})"
    console.print(aggregate_tree(report.aggregates, title=title, message_count=report.message_count))
    for line in verdicts(report):
        console.print(line)


def verdicts(report: PipelineReport) -> list[str]:
    """Whether each table holds what was sent: the StateTable its newest versions, the aggregates their sums."""
    lines = []
    if report.stale_items:
        trade, (sent, stored) = next(iter(sorted(report.stale_items.items())))
        lines.append(
            f"[red]StateTable: {len(report.stale_items)} trades do not hold their newest version "
            f"(lost updates / stale overwrites), e.g. {trade} sent up to v{sent}, stored v{stored}[/red]"
        )
    else:
        lines.append(f"[green]StateTable: all {report.trades:,} trades hold their newest version.[/green]")
    accepted, count = report.accepted, report.message_count
    if report.aggregates_exact:
        lines.append(
            f"[green]Aggregates EXACT: equal to the sum recomputed from the messages sent; "
            f"message_count {count} = accepted {accepted}.[/green]"
        )
        return lines
    differences = report.aggregate_differences
    total = sum((got - want for want, got in differences.values()), Decimal(0))
    lines.append(
        f"[red]Aggregates DIFFER: {len(differences)} of them differ from the sum recomputed from the messages "
        f"sent (net difference {total:,.2f}); message_count {count} vs accepted {accepted} "
        f"({count - accepted:+} double counts).[/red]"
    )
    for identifier, (want, got) in list(differences.items())[:5]:
        lines.append(f"  {identifier}: expected {want:,.2f}, found {got:,.2f} ({got - want:+,.2f})")
    return lines
