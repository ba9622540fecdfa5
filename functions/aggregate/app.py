"""Aggregate Lambda, the map of the aggregate stage: from the StateTable's stream, per-trade markers and ONE partial
result per sub-batch, exactly once (the reduce Lambda applies the partials to the AggregateTable)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from riskpipe.aggregate_service import AggregateOutcome, AggregateService, ChangeApplier
from riskpipe.aggregate_store import MarkerStore, partial_put
from riskpipe.aggregation import TradeChange
from riskpipe.aws import dynamodb_client, sqs_client
from riskpipe.batching import RecordResult, add_counts, batch_handler, report_set_aside
from riskpipe.chaos import FailureInjector
from riskpipe.config import AggregateSettings
from riskpipe.parameters import injected_failures
from riskpipe.partials import PartialKeys
from riskpipe.poison import SetAsideQueue
from riskpipe.wiring import Handler, Powertools, cold_start

POWERTOOLS = Powertools.of("aggregate")
logger, metrics = POWERTOOLS.logger, POWERTOOLS.metrics


def build_service(settings: AggregateSettings, session: boto3.Session | None = None) -> AggregateService:
    store = MarkerStore(
        settings.marker_table_name,
        dynamodb_client(max_attempts=settings.dynamodb_max_attempts, session=session),
        effect=partial_put(settings.partial_table_name, PartialKeys.of_map(settings.combining)),
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


def build_handler(service: ChangeApplier, failures: FailureInjector | None = None) -> Handler:
    def decide(event: dict[str, Any], context: LambdaContext) -> RecordResult:
        outcome = service.apply([to_change(DynamoDBRecord(r)) for r in event["Records"]])
        _report(outcome)

        def result(record: DynamoDBRecord) -> str:
            assert record.dynamodb is not None and record.dynamodb.sequence_number is not None
            return outcome.result_for(record.dynamodb.sequence_number)

        return result

    return batch_handler(POWERTOOLS, EventType.DynamoDBStreams, decide, failures)


def _report(outcome: AggregateOutcome) -> None:
    report_set_aside(logger, outcome, item="change", key="sequence_number", records="records")
    if outcome.duplicates:
        logger.info("already applied records skipped", extra={"count": len(outcome.duplicates)})
    extra = {"partials_written": outcome.partials, "duplicates_skipped": len(outcome.duplicates)}
    add_counts(metrics, outcome.counts("records") | extra)


# Built on the first invocation, once per instance, so that importing the module needs no configuration.
lambda_handler = cold_start(AggregateSettings.from_env, lambda s: build_handler(build_service(s), injected_failures(s)))
