"""Command line of the local pipeline: ``python -m localpipe demo|pipeline|invoke|watch|reconcile``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from localpipe.faults import FaultRates
from localpipe.lambda_context import (
    AGGREGATE_FUNCTION,
    FUNCTION_ALIASES,
    PRODUCER_FUNCTION,
    REDUCE_FUNCTION,
    STATE_FUNCTION,
)
from localpipe.latency import BatchLatency, latency_since
from localpipe.pipeline import (
    LocalPipeline,
    PipelineReport,
    scenario_sends,
)
from localpipe.reconcile import Reconciliation, StackTables, reconcile
from localpipe.reconcile import repair as repair_aggregates
from localpipe.resources import Deployed, deploy
from localpipe.samples import EVENTS, Expectation, Observed, load_expectations, mismatches, observe, seed
from localpipe.server import local_aws_environment, moto_server
from localpipe.template import Template
from localpipe.tree import aggregate_tree
from riskpipe.aggregate_store import read_aggregates
from riskpipe.aggregation import MESSAGE_COUNT_ID
from riskpipe.config import AggregateSettings

console = Console(stderr=False)

# The workshop's lab-2 conditions: 5 of every 40 records sent twice, revisions arriving out of order,
# and functions failing at random, before their work or after part of it.
DEMO_DEFAULTS = {
    "messages": 10_000,
    "trades": 500,
    "duplicates": 0.125,
    "out_of_order": 0.03,
    "function_errors": 0.05,
    "crash_rate": 0.05,
    "poison": 3,
}


def _pipeline_arguments(parser: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    add = parser.add_argument
    add("--messages", type=int, default=defaults.get("messages", 2_000), help="messages to generate")
    add("--trades", type=int, default=defaults.get("trades", 200), help="distinct trades")
    add("--seed", type=int, default=7, help="seed of every random choice: same seed, same run")
    add("--duplicates", type=float, default=defaults.get("duplicates", 0.0), help="producer re-send rate")
    add("--out-of-order", type=float, default=defaults.get("out_of_order", 0.0), help="late version rate")
    add("--function-errors", type=float, default=defaults.get("function_errors", 0.0), help="error before work")
    add("--crash-rate", type=float, default=defaults.get("crash_rate", 0.0), help="crash after writes")
    add("--lost-checkpoint", type=float, default=0.0, help="batch delivered again after success")
    add("--throttling", type=float, default=0.0, help="DynamoDB throttling rate per write call")
    add("--throttling-bursts", type=float, default=0.0, help="rate per write call of starting a burst of refusals")
    add("--burst-length", type=_burst_length, default=(3, 12), help="refusals in one burst: N or MIN-MAX (3-12)")
    add("--overlap", type=float, default=0.0, help="second consumer on the same shard (resharding)")
    add("--poison", type=int, default=defaults.get("poison", 0), help="malformed records to mix in")
    add("--shards", type=int, default=None, help="override the template's ShardCount")
    add("--batch-size", type=int, default=None, help="override StateBatchSize")
    add("--parallelization", type=int, default=None, help="override ParallelizationFactor")
    add("--max-retries", type=int, default=None, help="override MaximumRetryAttempts")
    add("--naive", action="store_true", help="read-then-write StateLambda and non-idempotent aggregate")
    add("--verbose", action="store_true", help="show the functions' logs and metrics")
    add("--json", action="store_true", help="print the report as JSON")
    add("--containers", action="store_true", help="the functions in Lambda containers (Docker, make local-image)")


def _burst_length(text: str) -> tuple[int, int]:
    shortest, _, longest = text.partition("-")
    try:
        return int(shortest), int(longest or shortest)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX, got {text!r}") from None


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "ShardCount": args.shards,
        "StateBatchSize": args.batch_size,
        "ParallelizationFactor": args.parallelization,
        "MaximumRetryAttempts": args.max_retries,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def _rates(args: argparse.Namespace) -> FaultRates:
    return FaultRates(
        duplicates=args.duplicates,
        out_of_order=args.out_of_order,
        lost_checkpoint=args.lost_checkpoint,
        crash_after_write=args.crash_rate,
        function_errors=args.function_errors,
        throttling=args.throttling,
        overlap=args.overlap,
        throttling_bursts=args.throttling_bursts,
        burst_length=args.burst_length,
    )


@contextlib.contextmanager
def _local_stack(args: argparse.Namespace) -> Iterator[tuple[Deployed, str | None]]:
    """The stack, and where the functions run: in this process (on a moto server), or with ``--containers`` in
    Lambda containers (``sam local start-lambda``, against moto in a container)."""
    template = Template.load(overrides=_overrides(args))
    if not args.containers:
        with moto_server() as endpoint, local_aws_environment(endpoint) as session:
            yield deploy(template, session), None
        return
    from localpipe import containers  # Docker is needed only here

    containers.require_images()
    console.print("building with sam build, starting the local AWS and SAM's Lambda emulation (warm containers)...")
    containers.sam_build()
    with (
        containers.docker_aws() as aws,
        local_aws_environment(aws.host_endpoint, containers.REGION) as session,
    ):
        deployed = deploy(template, session)
        with containers.sam_start_lambda(deployed, aws) as lambda_endpoint:
            yield deployed, lambda_endpoint


def run_pipeline(args: argparse.Namespace) -> int:
    rates = _rates(args)
    sends = scenario_sends(messages=args.messages, trades=args.trades, seed=args.seed, rates=rates, poison=args.poison)
    with _local_stack(args) as (deployed, lambda_endpoint):
        pipeline = LocalPipeline(
            deployed,
            rates=rates,
            seed=args.seed,
            naive=args.naive,
            verbose=args.verbose,
            remote_lambda=lambda_endpoint,
        )
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=args.json,
        ) as bar:
            task = bar.add_task("sending", total=len(sends), status="")

            def progress(done: int, total: int) -> None:
                state = pipeline.state_mapping.pending()
                aggregate = pipeline.aggregate_mapping.pending()
                description = "sending" if done < total else "draining"
                bar.update(task, completed=done, description=description, status=f"in flight {state}+{aggregate}")

            report = pipeline.run(sends, progress=progress)
    if args.json:
        console.print_json(json.dumps(_report_json(report), default=str))
    else:
        print_report(report, pipeline.aggregation_order)
    if report.naive:
        return 0  # a demonstration of what goes wrong; the differences are its result
    return 0 if report.exact else 1


def _report_json(report: PipelineReport) -> dict[str, Any]:
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
            "written": report.partials_written,
            "applied": report.partials_applied,
            "skipped": report.partials_skipped,
            "applied_twice": report.partials_applied_twice,
            "left": report.partials_left,
            "reduce_transactions": report.reduce_transactions,
        },
        "elapsed_seconds": round(report.elapsed, 2),
    }


def print_report(report: PipelineReport, order: Sequence[str]) -> None:
    mode = "NAIVE (read-then-write, ADD per record)" if report.naive else "exactly-once"
    table = Table(title=f"Local pipeline report: {mode}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("figure", justify="right")
    accepted = report.outcomes.get("accepted", 0) if not report.remote else report.state_changes
    table.add_row("records sent to the stream", f"{report.sent:,} ({report.poison_sent} poison)")
    table.add_row("distinct trade versions / trades", f"{report.distinct_messages:,} / {report.trades:,}")
    table.add_row(
        "delivered to StateLambda (with retries)",
        f"{report.delivered:,} in {report.invocations:,} invocations, {report.retried_batches} retried",
    )
    table.add_row(
        "bisections / lost checkpoints / overlaps",
        f"{report.bisections} / {report.lost_checkpoints} / {report.overlap_invocations}",
    )
    if report.remote:
        table.add_row("processed in Lambda containers", f"{report.outcomes.get('processed', 0):,} (decided there)")
        table.add_row("StateTable changes (versions accepted)", f"{report.state_changes:,}")
        table.add_row("poison records in the poison queue", f"{report.poison_in_queue}")
    else:
        table.add_row(
            "accepted / duplicate / stale",
            f"{accepted:,} / {report.outcomes.get('duplicate', 0):,} / {report.outcomes.get('stale', 0):,}",
        )
        table.add_row("poison (in the poison queue)", f"{report.outcomes.get('poison', 0)} ({report.poison_in_queue})")
    table.add_row(
        "exhausted -> on-failure destinations",
        f"{report.exhausted} state, {report.aggregate_exhausted} map, {report.reduce_exhausted} reduce",
    )
    if report.throttled_calls:
        table.add_row(
            "DynamoDB write calls throttled (bursts) / backoff",
            f"{report.throttled_calls:,} ({report.throttling_bursts:,}) / {report.backoff_seconds:,.0f} s",
        )
    table.add_row("unaccounted records", str(report.unaccounted))
    if report.remote:
        table.add_row("aggregate: delivered (decided in its container)", f"{report.aggregate_delivered:,}")
    else:
        table.add_row(
            "map: delivered / applied / duplicates skipped",
            f"{report.aggregate_delivered:,} / {report.aggregate_applied:,} / {report.aggregate_duplicates_skipped:,}",
        )
        table.add_row("map transactions (markers + one partial each)", f"{report.transactions:,}")
        table.add_row("map / reduce batches retried", f"{report.map_retried_batches} / {report.reduce_retried_batches}")
        table.add_row(
            "reduce: partials written / applied / skipped (delivered again)",
            f"{report.partials_written:,} / {report.partials_applied:,} / {report.partials_skipped:,}",
        )
        table.add_row("reduce transactions (ADDs + deletes under condition)", f"{report.reduce_transactions:,}")
    table.add_row("partials left unapplied in the PartialTable", str(report.partials_left))
    table.add_row("aggregate changes set aside (refused as invalid)", f"{report.aggregate_set_aside:,}")
    table.add_row("time taken", f"{report.elapsed:.1f} s")
    console.print(table)
    console.print(
        aggregate_tree(
            report.aggregates, title=f"AggregateTable ({' > '.join(order)})", message_count=report.message_count
        )
    )
    if report.stale_items:
        console.print(
            f"[red]StateTable: {len(report.stale_items)} trades do not hold their newest version "
            f"(lost updates / stale overwrites), e.g. {_sample(report.stale_items)}[/red]"
        )
    else:
        console.print(f"[green]StateTable: all {report.trades:,} trades hold their newest version.[/green]")
    if report.aggregates_exact:
        console.print(
            f"[green]Aggregates EXACT: equal to the sum recomputed from the messages sent; "
            f"message_count {report.message_count} = accepted {accepted}.[/green]"
        )
    else:
        differences = report.aggregate_differences
        total = sum((got - want for want, got in differences.values()), Decimal(0))
        console.print(
            f"[red]Aggregates DIFFER: {len(differences)} of them differ from the sum recomputed from the messages "
            f"sent (net difference {total:,.2f}); message_count {report.message_count} vs accepted {accepted} "
            f"({report.message_count - accepted:+} double counts).[/red]"
        )
        for identifier, (want, got) in list(differences.items())[:5]:
            console.print(f"  {identifier}: expected {want:,.2f}, found {got:,.2f} ({got - want:+,.2f})")


def _sample(items: dict[str, tuple[int, int]]) -> str:
    trade, (sent, stored) = next(iter(sorted(items.items())))
    return f"{trade} sent up to v{sent}, stored v{stored}"


# ------------------------------------------------------------------ invoke


def invoke(args: argparse.Namespace) -> int:
    """Invoke one function in process with an event file, against a fresh local stack (no Docker).

    ``--repeat N`` delivers the same event N times (a redelivery). For a sample of ``events/`` delivered once,
    the result is checked against ``events/expected.json``."""
    function = FUNCTION_ALIASES.get(args.function, args.function)
    event_path = Path(args.event).resolve()
    event = json.loads(event_path.read_text())
    expectation = _expectation_for(event_path)
    with moto_server() as endpoint, local_aws_environment(endpoint) as session:
        deployed = deploy(Template.load(), session)
        pipeline = LocalPipeline(deployed, verbose=True)
        seed(deployed, expectation)
        handlers = {
            STATE_FUNCTION: pipeline.invoke_state,
            AGGREGATE_FUNCTION: pipeline.invoke_aggregate,
            REDUCE_FUNCTION: pipeline.invoke_reduce,
            PRODUCER_FUNCTION: pipeline.invoke_producer,
        }
        if function not in handlers:
            console.print(f"[red]unknown function {args.function!r}: use one of {', '.join(FUNCTION_ALIASES)}[/red]")
            return 2
        for delivery in range(1, args.repeat + 1):
            response = handlers[function](event)
            console.rule(f"{function} returned (delivery {delivery} of {args.repeat})")
            console.print_json(json.dumps(response, default=str))
        observed = observe(deployed, response)
        _print_observed(observed)
    if expectation is None or args.repeat != 1:
        return 0
    problems = mismatches(expectation, observed) if expectation.function == function else ["not its function"]
    if problems:
        console.print(f"[red]{expectation.event}: NOT as expected: {'; '.join(problems)}[/red]")
        return 1
    console.print(f"[green]{expectation.event}: as expected (events/expected.json)[/green]")
    return 0


def _expectation_for(event_path: Path) -> Expectation | None:
    try:
        relative = str(event_path.relative_to(EVENTS))
    except ValueError:
        return None
    return load_expectations().get(relative)


def _print_observed(observed: Observed) -> None:
    console.rule(f"StateTable ({len(observed.state)} items)")
    for trade, message in sorted(observed.state.items())[:20]:
        console.print(f"{trade}  v{message.Version}  {message.Value}  {message.Hierarchy.as_json()}")
    console.rule(f"poison-record queue ({len(observed.poison_reasons)} messages)")
    for reason in observed.poison_reasons:
        console.print(reason)
    console.rule(f"risk stream ({observed.stream_records} records)")
    aggregates = dict(observed.aggregates)
    if aggregates:
        console.rule("AggregateTable")
        count = aggregates.pop(MESSAGE_COUNT_ID, None)
        console.print(aggregate_tree(aggregates, message_count=count))


# ------------------------------------------------------------------ watch


def watch(args: argparse.Namespace) -> int:
    """A live view of the aggregates, refreshed twice a second (the workshop's terminal frontend): of a deployed
    stack (``--stack NAME``), of the stack ``make up`` deployed when it is up, or of a local pipeline run."""
    from localpipe import localstack

    if args.stack:
        named = _stack(args.stack)[0]
        client = boto3.client("dynamodb")
        latency = _LatencyFeed(boto3.client("logs"), named["ReduceFunctionName"])
        return _watch_loop(lambda: read_aggregates(client, named["AggregateTableName"]), args.seconds, None, latency)
    local = localstack.load()
    if local is not None and not args.local_pipeline:
        console.print(f"watching stack {local.stack_name} on {local.endpoint} (make up) for {args.seconds:g} s")
        dynamodb = local.client("dynamodb")
        latency = _LatencyFeed(local.client("logs"), local.outputs["ReduceFunctionName"])
        table = local.outputs["AggregateTableName"]
        return _watch_loop(lambda: read_aggregates(dynamodb, table), args.seconds, None, latency)
    rates = FaultRates(duplicates=0.125, function_errors=0.05, crash_after_write=0.05)
    sends = scenario_sends(messages=args.messages, trades=args.trades, seed=args.seed, rates=rates)
    with moto_server() as endpoint, local_aws_environment(endpoint) as session:
        deployed = deploy(Template.load(), session)
        pipeline = LocalPipeline(deployed, rates=rates, seed=args.seed)
        local = deployed.client("dynamodb")
        runner = threading.Thread(target=pipeline.run, args=(sends,), kwargs={"burst": 200}, daemon=True)
        runner.start()
        return _watch_loop(lambda: read_aggregates(local, pipeline.aggregate_table), args.seconds, runner)


def _stack(name: str, cloudformation: Any = None) -> tuple[dict[str, str], dict[str, str]]:
    """A deployed stack's outputs and parameters, by key (AWS, or a local AWS through AWS_ENDPOINT_URL)."""
    client = cloudformation or boto3.client("cloudformation")
    stack = client.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return outputs, parameters


class _LatencyFeed:
    """The aggregate stage's end-to-end latency metric, read from the reduce's log as batches come in."""

    def __init__(self, logs: Any, function_name: str) -> None:
        self._logs = logs
        self._function = function_name
        self._since = time.time() - 60
        self._last: BatchLatency | None = None

    def latest(self) -> str:
        batches = latency_since(self._logs, self._function, self._since)
        if batches:
            self._last = batches[-1]
            self._since = self._last.timestamp_ms / 1000 + 0.001
        if self._last is None:
            return "end-to-end latency: no batch applied in the last minute"
        age = time.time() - self._last.timestamp_ms / 1000
        return (
            f"end-to-end latency (Timestamp to aggregate applied), last batch of {self._last.records}, {age:.0f} s "
            f"ago: max {self._last.max_ms / 1000:.2f} s, mean {self._last.mean_ms / 1000:.2f} s"
        )


def _watch_loop(
    read: Callable[[], dict[str, Decimal]],
    seconds: float,
    runner: threading.Thread | None,
    latency: _LatencyFeed | None = None,
) -> int:
    started = last_time = time.monotonic()
    last_count = Decimal(0)
    rate = 0.0
    latest = ""
    with Live(console=console, refresh_per_second=2) as live:
        while time.monotonic() - started < seconds:
            aggregates = {k: v for k, v in read().items() if not k.startswith("timestamp_")}
            count = aggregates.pop(MESSAGE_COUNT_ID, Decimal(0))
            now = time.monotonic()
            if now - last_time >= 1:
                rate = float(count - last_count) / (now - last_time)
                last_count, last_time = count, now
                latest = latency.latest() if latency is not None else ""
            lines = [f"{rate:,.0f} changes/s", *([latest] if latest else [])]
            live.update(Group(aggregate_tree(aggregates, message_count=count), *lines))
            if runner is not None and not runner.is_alive():
                break
            time.sleep(0.5)
    return 0


# ------------------------------------------------------------------ reconcile


def reconcile_command(args: argparse.Namespace) -> int:
    """Recompute the aggregates from the StateTable, print the drift, exit 1 when there is any (after the repair,
    with --repair). Against a deployed stack (--stack), or a local pipeline run that gives aggregate records up."""
    from localpipe import localstack

    if args.stack:
        return _reconcile_stack(args.stack, boto3.client("cloudformation"), boto3.client("dynamodb"), args.repair)
    local = localstack.load()
    if local is not None and not args.local_pipeline:
        console.print(f"reconciling stack {local.stack_name} on {local.endpoint} (make up)")
        return _reconcile_stack(local.stack_name, local.client("cloudformation"), local.client("dynamodb"), args.repair)
    # Locally: the aggregate stage gives records up at their first error, so the totals drift.
    rates = FaultRates(function_errors=args.function_errors)
    sends = scenario_sends(messages=args.messages, trades=args.trades, seed=args.seed, rates=rates)
    with moto_server() as endpoint, local_aws_environment(endpoint) as session:
        deployed = deploy(Template.load(), session)
        pipeline = LocalPipeline(
            deployed, rates=rates, seed=args.seed, mapping_overrides={AGGREGATE_FUNCTION: {"MaximumRetryAttempts": 0}}
        )
        report = pipeline.run(sends)
        console.print(
            f"local pipeline: {report.sent:,} messages, function errors {args.function_errors:.0%}, aggregate "
            f"MaximumRetryAttempts 0: {report.aggregate_exhausted:,} aggregate records given up"
        )
        tables = StackTables(
            state_table=pipeline.state_table,
            aggregate_table=pipeline.aggregate_table,
            marker_table=pipeline.marker_table,
            partial_table=pipeline.partial_table,
            order=pipeline.aggregation_order,
            marker_ttl_seconds=AggregateSettings.model_fields["marker_ttl_seconds"].default,
        )
        return _reconcile(deployed.client("dynamodb"), tables, repair=args.repair)


def _reconcile_stack(name: str, cloudformation: Any, dynamodb: Any, repair: bool) -> int:
    defaults = AggregateSettings.model_fields
    outputs, parameters = _stack(name, cloudformation)
    order = parameters.get("AggregationOrder") or ",".join(defaults["aggregation_order"].default)
    tables = StackTables(
        state_table=outputs["StateTableName"],
        aggregate_table=outputs["AggregateTableName"],
        marker_table=outputs["AggregateMarkerTableName"],
        partial_table=outputs["PartialTableName"],
        order=tuple(level.strip() for level in order.split(",")),
        marker_ttl_seconds=defaults["marker_ttl_seconds"].default,
    )
    return _reconcile(dynamodb, tables, repair=repair)


def _reconcile(client: Any, tables: StackTables, *, repair: bool) -> int:
    found = reconcile(client, tables)
    _print_drift(found)
    if repair and not found.exact:
        done = repair_aggregates(client, tables, found)
        console.print(
            f"repaired: {done.partials_deleted} pending partials deleted, {done.aggregates_rewritten} aggregates "
            f"rewritten, {done.markers_moved} markers moved up"
        )
        found = reconcile(client, tables)
        _print_drift(found)
    return 0 if found.exact else 1


def _print_drift(found: Reconciliation) -> None:
    trades = f"{len(found.trades):,} trades in the StateTable"
    if found.exact:
        console.print(f"[green]no drift[/green]: {len(found.expected):,} identifiers as the StateTable says ({trades})")
        return
    identifiers = len(set(found.expected) | set(found.actual))
    table = Table(title=f"drift: {len(found.drift)} of {identifiers} identifiers ({trades})")
    for column in ("Identifier", "StateTable says", "AggregateTable holds", "drift"):
        table.add_column(column, justify="left" if column == "Identifier" else "right")
    for identifier, (expected, actual) in found.drift.items():
        table.add_row(identifier, str(expected), str(actual), str(actual - expected))
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localpipe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _pipeline_arguments(commands.add_parser("demo", help="the workshop's scenario, checked end to end"), DEMO_DEFAULTS)
    _pipeline_arguments(commands.add_parser("pipeline", help="the local pipeline with your own options"), {})
    invoke_parser = commands.add_parser("invoke", help="invoke one function with an event file, no Docker")
    invoke_parser.add_argument("function", help="state, aggregate, producer (or a logical id)")
    invoke_parser.add_argument("event", help="path of an event JSON file, e.g. events/state/kinesis-batch.json")
    invoke_parser.add_argument("--repeat", type=int, default=1, help="deliver the event this many times")
    watch_parser = commands.add_parser("watch", help="live view of the aggregates")
    watch_parser.add_argument("--stack", help="a deployed stack's name (default: the stack of make up, when up)")
    watch_parser.add_argument("--local-pipeline", action="store_true", help="run the local pipeline even when up")
    watch_parser.add_argument("--seconds", type=float, default=60.0)
    watch_parser.add_argument("--messages", type=int, default=5_000)
    watch_parser.add_argument("--trades", type=int, default=300)
    watch_parser.add_argument("--seed", type=int, default=7)
    reconcile_parser = commands.add_parser("reconcile", help="recompute the aggregates from the StateTable")
    reconcile_parser.add_argument(
        "--stack",
        help="a deployed stack's name (default: the stack of make up when it is up, else a local run with drops)",
    )
    reconcile_parser.add_argument("--repair", action="store_true", help="rewrite the aggregates and the markers")
    reconcile_parser.add_argument("--local-pipeline", action="store_true", help="a local run even when make up is up")
    reconcile_parser.add_argument("--messages", type=int, default=2_000)
    reconcile_parser.add_argument("--trades", type=int, default=200)
    reconcile_parser.add_argument("--seed", type=int, default=7)
    reconcile_parser.add_argument("--function-errors", type=float, default=0.1, help="local run: error rate")
    args = parser.parse_args(argv)
    if args.command == "reconcile":
        return reconcile_command(args)
    if args.command in ("demo", "pipeline"):
        return run_pipeline(args)
    if args.command == "invoke":
        return invoke(args)
    return watch(args)


if __name__ == "__main__":
    sys.exit(main())
