"""Aggregate Lambda, the map of the aggregate stage: from the StateTable's stream, per-trade markers and ONE partial
result per sub-batch, exactly once (the reduce Lambda applies the partials to the AggregateTable)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from riskpipe.aggregate_service import AggregateOutcome, AggregateService, ChangeApplier
from riskpipe.aggregate_store import MarkerStore, partial_put
from riskpipe.aggregation import TradeChange
from riskpipe.aws import dynamodb_client, sqs_client
from riskpipe.chaos import FailureInjector
from riskpipe.config import AggregateSettings
from riskpipe.parameters import failure_injector
from riskpipe.poison import SetAsideQueue

logger = Logger(service="aggregate")
metrics = Metrics(namespace="RiskPipeline", service="aggregate")
tracer = Tracer(service="aggregate")


def build_service(settings: AggregateSettings, session: boto3.Session | None = None) -> AggregateService:
    store = MarkerStore(
        settings.marker_table_name,
        dynamodb_client(max_attempts=settings.dynamodb_max_attempts, session=session),
        effect=partial_put(settings.partial_table_name),
        marker_ttl_seconds=settings.marker_ttl_seconds,
    )
    return AggregateService(
        store,
        settings.aggregation_order,
        set_aside=SetAsideQueue(settings.poison_queue_url, sqs_client(session=session)),
        max_attempts=settings.transaction_max_attempts,
    )


def to_change(record: DynamoDBRecord) -> TradeChange:
    stream = record.dynamodb
    assert stream is not None and stream.sequence_number is not None
    return TradeChange.from_images(
        sequence_number=stream.sequence_number,
        event_name=record.event_name.name if record.event_name else "",
        keys=stream.keys or {},
        new_image=stream.new_image,
        old_image=stream.old_image,
    )


def build_handler(service: ChangeApplier, failures: FailureInjector | None = None) -> Any:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict, context: LambdaContext) -> dict:
        if failures is not None:
            failures.maybe_fail()  # before any work: the workshop's random failures, off by default
        outcome = service.apply([to_change(DynamoDBRecord(r)) for r in event["Records"]])
        _report(outcome)

        def record_handler(record: DynamoDBRecord) -> str:
            assert record.dynamodb is not None and record.dynamodb.sequence_number is not None
            return outcome.result_for(record.dynamodb.sequence_number)

        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler


def _report(outcome: AggregateOutcome) -> None:
    for sequence_number, reason in outcome.set_aside.items():
        logger.error(
            "change set aside in the aggregate poison queue: the totals need a reconcile",
            extra={"sequence_number": sequence_number, "reason": reason},
        )
    if outcome.failed:
        errors = sorted({repr(e) for e in outcome.failed.values()})
        logger.warning(
            "records failed; reported for redelivery", extra={"count": len(outcome.failed), "errors": errors}
        )
    if outcome.duplicates:
        logger.info("already applied records skipped", extra={"count": len(outcome.duplicates)})
    metrics.add_metric(name="records_applied", unit=MetricUnit.Count, value=len(outcome.applied))
    metrics.add_metric(name="partials_written", unit=MetricUnit.Count, value=outcome.partials)
    metrics.add_metric(name="duplicates_skipped", unit=MetricUnit.Count, value=len(outcome.duplicates))
    metrics.add_metric(name="transaction_conflicts", unit=MetricUnit.Count, value=outcome.conflicts)
    metrics.add_metric(name="transactions", unit=MetricUnit.Count, value=outcome.transactions)
    metrics.add_metric(name="records_failed", unit=MetricUnit.Count, value=len(outcome.failed))
    metrics.add_metric(name="records_set_aside", unit=MetricUnit.Count, value=len(outcome.set_aside))


_handler: Any = None


def lambda_handler(event: dict, context: LambdaContext) -> dict:
    global _handler
    if _handler is None:
        settings = AggregateSettings.from_env()
        _handler = build_handler(
            build_service(settings),
            failure_injector(
                settings.parameter_table_name, settings.failure_parameters, settings.injected_failure_rate
            ),
        )
    return _handler(event, context)
