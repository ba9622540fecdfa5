"""``make send``: a round of the producer's traffic to the stack ``make up`` deployed, timed until the aggregates
are exact, with the end-to-end latency and the CPU per message of each component."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rich.console import Console

from localpipe.ministack.model import MiniStack
from localpipe.ministack.state import running_pid
from localpipe.report.costs import MINISTACK, bare_update_item_loop, read_cpu
from localpipe.report.latency import latency_since, percentiles
from results.record import ResultStore
from riskpipe.aggregate_store import read_aggregates
from riskpipe.config import AggregateSettings
from riskpipe.game import Round, RoundCheck, check_round, plan_round
from riskpipe.publisher import KinesisPublisher

console = Console(soft_wrap=True, highlight=False)


def send(
    stack: MiniStack, *, workshop: bool, calls: int, seed: int, timeout: float, results: ResultStore | None = None
) -> int:
    """A round of the producer's traffic (the workshop's lab-2 burst with ``--workshop``: 250 PutRecords calls
    of 40, revisions and copies) over trades of its own, straight onto the stream as the workshop's generator
    does; then the time until every aggregate moved by exactly what was sent, and the end-to-end latency the
    aggregate stage published meanwhile (p50 and p99). Its figures published to ``results`` when given."""
    order = AggregateSettings.model_fields["aggregation_order"].default  # the template's AggregationOrder
    round_id = uuid.uuid4().hex[:8]
    planned = plan_round(round_id, seed, order, calls=250 if workshop else calls)
    dynamodb = stack.client("dynamodb")
    table = stack.outputs["AggregateTableName"]
    before = read_aggregates(dynamodb, table)
    publisher = KinesisPublisher(stack.outputs["StreamName"], stack.client("kinesis"))
    session = running_pid() or 0
    functions = {"state": stack.outputs["StateFunctionName"], "aggregate": stack.outputs["AggregateFunctionName"]}
    cpu_before = read_cpu(session, functions)
    started = time.time()
    for call in planned.calls:
        publisher.publish(call)
    sent_at = time.time()
    console.print(
        f"sent {planned.messages:,} messages ({planned.trades:,} trades, round {round_id}) in {len(planned.calls)} "
        f"PutRecords calls in {sent_at - started:.1f} s"
    )
    check = _await_exact(planned, lambda: read_aggregates(dynamodb, table), before, started + timeout)
    exact_at = time.time()
    cpu_used = read_cpu(session, functions).since(cpu_before)
    figures: dict[str, Any] = {
        "workshop": workshop,
        "seed": seed,
        "messages": planned.messages,
        "trades": planned.trades,
        "put_calls": len(planned.calls),
        "sent_seconds": round(sent_at - started, 2),
        "exact": check.exact,
        "seconds_to_exact": round(exact_at - started, 2),
    }
    if not check.exact:
        console.print(
            f"NOT exact after {exact_at - started:.0f} s: {len(check.differences)} aggregates differ, "
            f"message_count moved by {check.applied} (expected {planned.trades}..{planned.versions})"
        )
        _publish(results, figures)
        return 1
    rate = planned.messages / (exact_at - started)
    console.print(
        f"aggregates EXACT {exact_at - started:.1f} s after the first record was sent "
        f"({exact_at - sent_at:.1f} s after the last; {rate:,.0f} messages/s end to end); "
        f"message_count moved by {check.applied}"
    )
    figures |= {"seconds_after_last_put": round(exact_at - sent_at, 2), "messages_per_second": round(rate, 1)}
    figures["latency"] = _report_latency(stack, started)
    figures |= _report_cpu(stack, session, planned.messages, cpu_used, exact_at - started)
    _publish(results, figures)
    return 0


def _publish(results: ResultStore | None, figures: dict[str, Any]) -> None:
    if results is not None:
        path = results.publish("send", figures)
        console.print(f"result published as {path} (make results renders it in docs/results.md)")


BARE_LOOP_CALLS = 500


def _await_exact(
    planned: Round, read: Callable[[], dict[str, Decimal]], before: dict[str, Decimal], deadline: float
) -> RoundCheck:
    """The round's check, read again every half second until the aggregates are exact or the deadline passes."""
    check = check_round(planned, before, read())
    while not check.exact and time.time() < deadline:
        time.sleep(0.5)
        check = check_round(planned, before, read())
    return check


def _report_latency(stack: MiniStack, started: float) -> dict[str, float] | None:
    """The end-to-end latency printed, and returned in seconds (None when none was published)."""
    batches = latency_since(stack.client("logs"), stack.outputs["ReduceFunctionName"], started - 1)
    if not batches:
        return None
    p50, p99, worst = percentiles(batches)
    records = sum(b.records for b in batches)
    console.print(
        f"end-to-end latency (Timestamp to aggregate applied, from the aggregate stage's metric over "
        f"{records:,} records in {len(batches)} batches): "
        f"p50 {p50 / 1000:.1f} s, p99 {p99 / 1000:.1f} s, max {worst / 1000:.1f} s"
    )
    return {
        "p50_s": p50 / 1000,
        "p99_s": p99 / 1000,
        "max_s": worst / 1000,
        "records": records,
        "batches": len(batches),
    }


def _report_cpu(
    stack: MiniStack, session: int, messages: int, used: dict[str, float], seconds: float
) -> dict[str, Any]:
    """CPU per message of each component over the burst, beside a bare boto3 update_item loop run now; printed and
    returned."""
    per_message = {name: 1000 * used.get(name, 0.0) / messages for name in (MINISTACK, "state", "aggregate")}
    total = sum(used.values())
    console.print(
        f"CPU per message over the burst: MiniStack {per_message[MINISTACK]:.2f} ms, state function "
        f"{per_message['state']:.2f} ms, aggregate function {per_message['aggregate']:.2f} ms "
        f"({total:.1f} CPU s in {seconds:.1f} s: {total / seconds:.2f} of {os.cpu_count()} cores)"
    )
    bare = bare_update_item_loop(stack.client("dynamodb"), session, BARE_LOOP_CALLS)
    client_ms, server_ms = bare.per_call_ms()
    console.print(
        f"bare boto3 update_item loop ({bare.calls} calls, one client, {bare.calls / bare.seconds:.0f} calls/s): "
        f"client {client_ms:.2f} ms and MiniStack {server_ms:.2f} ms of CPU per call"
    )
    return {
        "cpu_ms_per_message": {"ministack": per_message[MINISTACK]}
        | {k: per_message[k] for k in ("state", "aggregate")},
        "cpu_seconds": round(total, 2),
        "cores_busy": round(total / seconds, 2),
        "bare_loop": {
            "calls": bare.calls,
            "calls_per_second": round(bare.calls / bare.seconds, 1),
            "client_ms": client_ms,
            "ministack_ms": server_ms,
        },
    }
