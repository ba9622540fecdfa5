"""The report's lines, all of them: the rich table for people (``print_report``, with the aggregate tree and the
verdicts), the JSON for tools (``report_json``), and the lines on the functions' decisions, which depend on where
the functions ran (``IN_PROCESS_ROWS``, ``CONTAINER_ROWS``: the backend names which)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from localpipe.report.model import PipelineReport, Rows
from localpipe.report.tree import aggregate_tree
from riskpipe.identifiers import MESSAGE_COUNT_ID

# ------------------------------------------------------------------ the lines on the functions' decisions


class InProcessRows:
    """Every decision seen record by record, the handlers having run in this process."""

    def state(self, report: PipelineReport) -> Rows:
        outcomes = report.outcomes
        return [
            (
                "accepted / duplicate / stale",
                f"{report.accepted:,} / {outcomes['duplicate']:,} / {outcomes['stale']:,}",
            ),
            ("poison (in the poison queue)", f"{outcomes['poison']} ({report.poison_in_queue})"),
        ]

    def aggregate(self, report: PipelineReport) -> Rows:
        r = report
        return [
            (
                "map: delivered / applied / duplicates skipped",
                f"{r.aggregate_delivered:,} / {r.aggregate_applied:,} / {r.aggregate_duplicates_skipped:,}",
            ),
            ("map transactions (markers + one partial each)", f"{r.transactions:,}"),
            ("map / reduce batches retried", f"{r.map_retried_batches} / {r.reduce_retried_batches}"),
            *_combining_rows(r),
            (
                "reduce: partials written / applied / skipped (delivered again)",
                f"{r.partials_written:,} / {r.partials_applied:,} / {r.partials_skipped:,}",
            ),
            ("reduce transactions (ADDs + deletes under condition)", f"{r.reduce_transactions:,}"),
        ]


def _combining_rows(r: PipelineReport) -> Rows:
    """The combining lanes' lines, with the template's combining level on."""
    if not r.combining:
        return []
    return [
        (
            "combine: partials combined / skipped (delivered again)",
            f"{r.partials_combined:,} / {r.combine_skipped:,}",
        ),
        (
            "combine: combined partials written / applied by the reduce",
            f"{r.combined_partials_written:,} / {r.combined_partials_applied:,}",
        ),
        (
            "combine: transactions / batches retried / lost checkpoints / overlaps",
            f"{r.combine_transactions:,} / {r.combine_retried_batches} / {r.combine_lost_checkpoints} / "
            f"{r.combine_overlaps}",
        ),
    ]


class ContainerRows:
    """Decisions made inside Lambda containers: known only as committed, or given up, and from the tables."""

    def state(self, report: PipelineReport) -> Rows:
        return [
            ("processed in Lambda containers", f"{report.outcomes['processed']:,} (decided there)"),
            ("StateTable changes (versions accepted)", f"{report.state_changes:,}"),
            ("poison records in the poison queue", f"{report.poison_in_queue}"),
        ]

    def aggregate(self, report: PipelineReport) -> Rows:
        return [("aggregate: delivered (decided in its container)", f"{report.aggregate_delivered:,}")]


IN_PROCESS_ROWS = InProcessRows()
CONTAINER_ROWS = ContainerRows()


# ------------------------------------------------------------------ the table and the JSON


def report_json(report: PipelineReport) -> dict[str, Any]:
    partials = ("written", "applied", "skipped", "applied_twice", "left")
    return {
        "naive": report.naive,
        "sent": report.sent,
        "delivered": report.delivered,
        "outcomes": dict(report.outcomes),
        "accepted": report.accepted,
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
        MESSAGE_COUNT_ID: str(report.message_count),
        "partials": {
            **{name: getattr(report, f"partials_{name}") for name in partials},
            "reduce_transactions": report.reduce_transactions,
        },
        **({"combining": _combining_json(report)} if report.combining else {}),
        "elapsed_seconds": round(report.elapsed, 2),
    }


def _combining_json(report: PipelineReport) -> dict[str, int]:
    names: tuple[str, ...] = ("partials_combined", "partials_combined_twice", "combine_skipped")
    names += ("combined_partials_written", "combined_partials_applied", "combine_transactions", "combine_exhausted")
    names += ("combine_failure_messages",)
    return {name: getattr(report, name) for name in names}


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
            f"{r.exhausted} state, {r.aggregate_exhausted} map, "
            + (f"{r.combine_exhausted} combine, " if r.combining else "")
            + f"{r.reduce_exhausted} reduce",
        ),
        *([("DynamoDB write calls throttled (bursts) / backoff", throttled)] if r.throttled_calls else []),
        ("unaccounted records", str(r.unaccounted)),
        *r.rows.aggregate(r),
        ("partials left unapplied (ReduceTable, PartialTable)", str(r.partials_left)),
        ("aggregate changes set aside (refused as invalid)", f"{r.aggregate_set_aside:,}"),
        ("time taken", f"{r.elapsed:.1f} s"),
    ]


def print_report(report: PipelineReport, console: Console) -> None:
    """The rich table, the AggregateTable as a tree, and the verdicts on both tables."""
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
