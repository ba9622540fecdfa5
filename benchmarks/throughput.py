"""Throughput of the whole local pipeline (producer, StateLambda, table stream, aggregate) against the least
any consumer must do: a bare boto3 loop of one conditional write per message, on the same moto server.

The runner's own share is also given: the part of the pipeline's time spent outside AWS calls (moto's work
is inside them)."""

from __future__ import annotations

import time

from benchmarks.common import Row, create_table
from benchmarks.units import CallTimer
from localpipe.faults.scenario import Send
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.stack.local import deploy_local, local_aws
from riskpipe.models import RiskMessage
from riskpipe.producer import generate_messages
from riskpipe.state_store import CONDITION_EXPRESSION, EXPRESSION_NAMES, UPDATE_EXPRESSION, expression_values


def _bare_loop(client: object, table: str, sent: list[RiskMessage]) -> float:
    started = time.perf_counter()
    for message in sent:
        client.update_item(  # type: ignore[attr-defined]
            TableName=table,
            Key={"pk": {"S": message.TradeID}},
            UpdateExpression=UPDATE_EXPRESSION,
            ConditionExpression=CONDITION_EXPRESSION,
            ExpressionAttributeNames=EXPRESSION_NAMES,
            ExpressionAttributeValues=expression_values(message),
        )
    return time.perf_counter() - started


def pipeline_throughput(messages: int = 1000, trades: int = 1000) -> list[Row]:
    sent = generate_messages(messages, trades, seed=21, now=1.7e9)
    with local_aws() as session:
        timer = CallTimer(session)  # before any client is made: a client copies its session's hooks
        deployed = deploy_local(session, prefix="bench")
        pipeline = LocalPipeline(deployed, on_session=timer.register)
        timer.seconds.clear()  # the stack's creation is not the pipeline's work
        started = time.perf_counter()
        report = pipeline.run([Send.of(m) for m in sent], burst=500)
        with_checks = time.perf_counter() - started  # the run and the report's reads, as the timer saw them
        if not report.exact:
            raise RuntimeError("the benchmark run was not exact: its figures would mean nothing")
        pipeline_seconds, in_calls, by_operation = report.elapsed, timer.total, dict(timer.seconds)
        client = session.client("dynamodb")
        create_table(client, "bare-loop", stream=True)
        bare_seconds = _bare_loop(client, "bare-loop", sent)
    ratio = pipeline_seconds / bare_seconds
    outside = max(0.0, with_checks - in_calls) / with_checks
    slowest = sorted(by_operation.items(), key=lambda item: -item[1])[:4]
    biggest = ", ".join(f"{op} {seconds:.1f} s" for op, seconds in slowest)
    return [
        Row(
            "throughput",
            "whole local pipeline",
            messages / pipeline_seconds,
            "msg/s",
            note=f"{messages} messages over {trades} trades, {report.transactions} aggregate transactions, exact",
        ),
        Row("throughput", "bare conditional-write loop, same moto server", messages / bare_seconds, "msg/s"),
        Row(
            "throughput",
            "pipeline time / bare loop time",
            ratio,
            "x",
            target="<= 1.25",
            met=ratio <= 1.25,
            note=f"time in AWS calls: {biggest}",
        ),
        Row(
            "throughput",
            "runner's own share of the pipeline's time (outside AWS calls)",
            100 * outside,
            "%",
        ),
    ]
