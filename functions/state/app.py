"""StateLambda: keeps the newest version of every trade in the StateTable.

Thin by design: parse the batch, let the domain decide every record, report. Collaborators are built
once per cold start from validated settings; tests pass their own through ``build_handler``.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from riskpipe.aws import dynamodb_client, longest_sdk_backoff, sqs_client
from riskpipe.chaos import FailureInjector
from riskpipe.config import StateSettings
from riskpipe.models import WriteOutcome
from riskpipe.parameters import failure_injector
from riskpipe.poison import PoisonQueue
from riskpipe.state_service import BatchDecider, BatchDecisions, StateService, StreamRecord
from riskpipe.state_store import VersionedStateStore
from riskpipe.throttling import Backoff, Pacing

logger = Logger(service="state")
metrics = Metrics(namespace="RiskPipeline", service="state")
tracer = Tracer(service="state")


# Kept for the report when a throttled write is tried for the last time (besides that call's own SDK backoff).
REPORT_SECONDS = 5.0


def build_service(
    settings: StateSettings, session: boto3.Session | None = None, *, pacing: Pacing | None = None
) -> StateService:
    client = dynamodb_client(
        max_attempts=settings.dynamodb_max_attempts,
        max_pool_connections=settings.write_concurrency,
        session=session,
    )
    return StateService(
        VersionedStateStore(settings.state_table_name, client),
        PoisonQueue(settings.poison_queue_url, sqs_client(session=session)),
        write_concurrency=settings.write_concurrency,
        backoff=Backoff(reserve_seconds=longest_sdk_backoff(settings.dynamodb_max_attempts) + REPORT_SECONDS),
        pacing=pacing,
    )


def build_handler(service: BatchDecider, failures: FailureInjector | None = None) -> Any:
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict, context: LambdaContext) -> dict:
        if failures is not None:
            failures.maybe_fail()  # before any work: the workshop's random failures, off by default
        records = [StreamRecord.from_lambda_record(r) for r in event["Records"]]
        # A throttled write is tried again while the invocation has time left (see riskpipe.throttling).
        decisions = service.decide(records, time_left=context.get_remaining_time_in_millis() / 1000)
        _report(decisions)

        def record_handler(record: KinesisStreamRecord) -> str:
            return decisions.result_for(record.kinesis.sequence_number).value

        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler


def _report(decisions: BatchDecisions) -> None:
    for sequence_number, decision in decisions.by_sequence.items():
        detail = {"sequence_number": sequence_number, "trade_id": decision.trade_id, "version": decision.version}
        if decision.outcome is WriteOutcome.POISON:
            logger.error("poison record sent to the poison-record queue", extra={**detail, "reason": decision.reason})
        elif decision.outcome in (WriteOutcome.DUPLICATE, WriteOutcome.STALE):
            logger.info(f"{decision.outcome.value} record skipped", extra=detail)
        elif decision.error is not None:
            logger.warning("record failed; reported for redelivery", extra={**detail, "error": repr(decision.error)})
    counts = decisions.counts()
    for outcome in (*WriteOutcome, "failed"):
        name = outcome.value if isinstance(outcome, WriteOutcome) else outcome
        metrics.add_metric(name=f"records_{name}", unit=MetricUnit.Count, value=counts.get(name, 0))
    metrics.add_metric(name="throttled_retries", unit=MetricUnit.Count, value=decisions.throttled_retries)


_handler: Any = None


def lambda_handler(event: dict, context: LambdaContext) -> dict:
    global _handler
    if _handler is None:  # built on first use so that importing the module needs no configuration
        settings = StateSettings.from_env()
        _handler = build_handler(
            build_service(settings),
            failure_injector(
                settings.parameter_table_name, settings.failure_parameters, settings.injected_failure_rate
            ),
        )
    return _handler(event, context)
