"""``python -m localpipe watch``: a live view of the aggregates (the workshop's terminal frontend)."""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import boto3
from rich.console import Console, Group
from rich.live import Live

from localpipe.faults.plan import FaultPlan
from localpipe.faults.scenario import WATCH_RATES, Send
from localpipe.ministack import state as ministack
from localpipe.pipeline.options import PipelineOptions
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.report.latency import BatchLatency, latency_since
from localpipe.report.tree import aggregate_tree
from localpipe.stack.deployed import describe_stack
from localpipe.stack.local import local_stack
from riskpipe.aggregate_store import read_aggregates
from riskpipe.identifiers import MESSAGE_COUNT_ID

console = Console(stderr=False)
STOP_SECONDS = 60.0  # the longest a local run takes to stop between two batches once the watch is over


def watch(args: argparse.Namespace) -> int:
    """A live view of the aggregates, refreshed twice a second (the workshop's terminal frontend): of a deployed
    stack (``--stack NAME``), of the stack ``make up`` deployed when it is up, or of a local pipeline run."""
    if args.stack:
        named = describe_stack(args.stack)[0]
        client = boto3.client("dynamodb")
        latency = _LatencyFeed(boto3.client("logs"), named["ReduceFunctionName"])
        return _watch_loop(lambda: read_aggregates(client, named["AggregateTableName"]), args.seconds, None, latency)
    local = ministack.load()
    if local is not None and not args.local_pipeline:
        console.print(f"watching stack {local.stack_name} on {local.endpoint} (make up) for {args.seconds:g} s")
        dynamodb = local.client("dynamodb")
        latency = _LatencyFeed(local.client("logs"), local.outputs["ReduceFunctionName"])
        table = local.outputs["AggregateTableName"]
        return _watch_loop(lambda: read_aggregates(dynamodb, table), args.seconds, None, latency)
    plan = FaultPlan(WATCH_RATES, seed=args.seed)
    sends = plan.traffic(args.messages, args.trades)
    with local_stack() as deployed:
        pipeline = LocalPipeline(deployed, PipelineOptions(faults=plan))
        local = deployed.client("dynamodb")
        stop = threading.Event()
        runner = threading.Thread(target=_run_until, args=(pipeline, sends, stop), daemon=True)
        runner.start()
        try:
            return _watch_loop(lambda: read_aggregates(local, pipeline.aggregate_table), args.seconds, runner)
        finally:  # the run stops before its moto server does
            stop.set()
            runner.join(timeout=STOP_SECONDS)


class _Stopped(Exception):
    """The watch is over: raised from the run's progress callback, between two batches."""


def _run_until(pipeline: LocalPipeline, sends: Sequence[Send], stop: threading.Event) -> None:
    """The local run, stopped early once ``stop`` is set (the run reports its progress every few batches)."""

    def progress(_done: int, _total: int) -> None:
        if stop.is_set():
            raise _Stopped

    with contextlib.suppress(_Stopped):
        pipeline.run(sends, burst=200, progress=progress)


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
