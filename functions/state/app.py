"""StateLambda: keeps the newest version of every trade in the StateTable.

Thin by design: parse the batch, let the domain decide every record, report. Collaborators are built
once per cold start from validated settings; tests pass their own through ``build_handler``.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from riskpipe.aws import dynamodb_client, longest_sdk_backoff, sqs_client
from riskpipe.batching import RecordResult, add_counts, batch_handler
from riskpipe.chaos import FailureInjector
from riskpipe.config import StateSettings
from riskpipe.models import WriteOutcome
from riskpipe.parameters import injected_failures
from riskpipe.poison import PoisonQueue
from riskpipe.state_service import BatchDecider, BatchDecisions, StateService, StreamRecord
from riskpipe.state_store import VersionedStateStore
from riskpipe.throttling import Backoff, Pacing
from riskpipe.wiring import Handler, Powertools, cold_start

POWERTOOLS = Powertools.of("state")
logger, metrics = POWERTOOLS.logger, POWERTOOLS.metrics


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


def build_handler(service: BatchDecider, failures: FailureInjector | None = None) -> Handler:
    def decide(event: dict[str, Any], context: LambdaContext) -> RecordResult:
        records = [StreamRecord.from_lambda_record(r) for r in event["Records"]]
        # A throttled write is tried again while the invocation has time left (see riskpipe.throttling).
        decisions = service.decide(records, time_left=context.get_remaining_time_in_millis() / 1000)
        _report(decisions)

        def result(record: KinesisStreamRecord) -> str:
            return decisions.result_for(record.kinesis.sequence_number).value

        return result

    return batch_handler(POWERTOOLS, EventType.KinesisDataStreams, decide, failures)


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
    names = [outcome.value for outcome in WriteOutcome] + ["failed"]
    add_counts(metrics, {f"records_{name}": counts.get(name, 0) for name in names})
    add_counts(metrics, {"throttled_retries": decisions.throttled_retries})


# Built on the first invocation, once per instance, so that importing the module needs no configuration.
lambda_handler = cold_start(StateSettings.from_env, lambda s: build_handler(build_service(s), injected_failures(s)))
