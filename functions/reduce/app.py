"""Reduce Lambda, one at a time on the PartialTable's stream: applies the map's partial results to the
AggregateTable, many in one transaction, each deleted under condition so that none is applied twice."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from riskpipe.aws import dynamodb_client, sqs_client
from riskpipe.chaos import FailureInjector
from riskpipe.config import ReduceSettings
from riskpipe.parameters import failure_injector
from riskpipe.partials import Partial, end_to_end_latency
from riskpipe.poison import SetAsideQueue
from riskpipe.reduce_service import PartialApplier, ReduceOutcome, ReduceService
from riskpipe.reduce_store import ReduceStore

logger = Logger(service="reduce")
metrics = Metrics(namespace="RiskPipeline", service="reduce")
tracer = Tracer(service="reduce")


def build_service(settings: ReduceSettings, session: boto3.Session | None = None) -> ReduceService:
    store = ReduceStore(
        settings.aggregate_table_name,
        settings.partial_table_name,
        dynamodb_client(max_attempts=settings.dynamodb_max_attempts, session=session),
    )
    return ReduceService(
        store,
        set_aside=SetAsideQueue(settings.poison_queue_url, sqs_client(session=session)),
        max_attempts=settings.transaction_max_attempts,
    )


def to_partial(record: DynamoDBRecord) -> Partial:
    assert record.dynamodb is not None and record.dynamodb.new_image is not None
    return Partial.from_image(record.dynamodb.new_image)


def build_handler(service: PartialApplier, failures: FailureInjector | None = None) -> Any:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict, context: LambdaContext) -> dict:
        if failures is not None:
            failures.maybe_fail()  # before any work: the workshop's random failures, off by default
        partials = [to_partial(DynamoDBRecord(r)) for r in event["Records"]]
        outcome = service.apply(partials)
        _report(outcome)
        _report_latency(partials, outcome)

        def record_handler(record: DynamoDBRecord) -> str:
            return outcome.result_for(to_partial(record).partial_id)

        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler


def _report(outcome: ReduceOutcome) -> None:
    for partial_id, reason in outcome.set_aside.items():
        logger.error(
            "partial set aside in the aggregate poison queue: the totals need a reconcile",
            extra={"partial_id": partial_id, "reason": reason},
        )
    if outcome.failed:
        errors = sorted({repr(e) for e in outcome.failed.values()})
        logger.warning(
            "partials failed; reported for redelivery", extra={"count": len(outcome.failed), "errors": errors}
        )
    if outcome.skipped:
        logger.info("partials applied before skipped", extra={"count": len(outcome.skipped)})
    metrics.add_metric(name="partials_applied", unit=MetricUnit.Count, value=len(outcome.applied))
    metrics.add_metric(name="partials_skipped", unit=MetricUnit.Count, value=len(outcome.skipped))
    metrics.add_metric(name="messages_applied", unit=MetricUnit.Count, value=outcome.messages)
    metrics.add_metric(name="transactions", unit=MetricUnit.Count, value=outcome.transactions)
    metrics.add_metric(name="transaction_conflicts", unit=MetricUnit.Count, value=outcome.conflicts)
    metrics.add_metric(name="partials_failed", unit=MetricUnit.Count, value=len(outcome.failed))
    metrics.add_metric(name="partials_set_aside", unit=MetricUnit.Count, value=len(outcome.set_aside))


def _report_latency(partials: Sequence[Partial], outcome: ReduceOutcome) -> None:
    """End-to-end latency of the messages whose aggregates were applied now: from each message's Timestamp."""
    applied = {p.partial_id: p for p in partials if p.partial_id in outcome.applied}
    latency = end_to_end_latency(applied.values(), time.time())
    if latency is not None:
        largest, mean = latency
        metrics.add_metric(name="end_to_end_latency_max", unit=MetricUnit.Milliseconds, value=largest * 1000)
        metrics.add_metric(name="end_to_end_latency_mean", unit=MetricUnit.Milliseconds, value=mean * 1000)


_handler: Any = None


def lambda_handler(event: dict, context: LambdaContext) -> dict:
    global _handler
    if _handler is None:
        settings = ReduceSettings.from_env()
        _handler = build_handler(
            build_service(settings),
            failure_injector(
                settings.parameter_table_name, settings.failure_parameters, settings.injected_failure_rate
            ),
        )
    return _handler(event, context)
