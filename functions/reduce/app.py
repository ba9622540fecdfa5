"""Reduce Lambda, one at a time on the ReduceTable's stream (one shard: its items share one partition key): applies
the map's partial results (or, with the combining level on, the combined partials) to the AggregateTable, many in
one transaction, each deleted under condition so that none is applied twice."""

from __future__ import annotations

import time
from collections.abc import Sequence

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from riskpipe.aws import dynamodb_client, sqs_client
from riskpipe.batching import add_counts, partials_handler, report_set_aside, to_partial
from riskpipe.chaos import FailureInjector
from riskpipe.config import ReduceSettings
from riskpipe.parameters import injected_failures
from riskpipe.partials import Partial, end_to_end_latency
from riskpipe.poison import SetAsideQueue
from riskpipe.reduce_service import PartialApplier, ReduceOutcome, ReduceService
from riskpipe.reduce_store import ReduceStore
from riskpipe.wiring import Handler, Powertools, cold_start

__all__ = ["build_handler", "build_service", "lambda_handler", "to_partial"]

POWERTOOLS = Powertools.of("reduce")
logger, metrics = POWERTOOLS.logger, POWERTOOLS.metrics


def build_service(settings: ReduceSettings, session: boto3.Session | None = None) -> ReduceService:
    store = ReduceStore(
        settings.aggregate_table_name,
        settings.reduce_table_name,
        dynamodb_client(max_attempts=settings.dynamodb_max_attempts, session=session),
    )
    return ReduceService(
        store,
        set_aside=SetAsideQueue(settings.poison_queue_url, sqs_client(session=session)),
        max_attempts=settings.transaction_max_attempts,
    )


def build_handler(service: PartialApplier, failures: FailureInjector | None = None) -> Handler:
    return partials_handler(POWERTOOLS, service, _report, failures)


def _report(partials: Sequence[Partial], outcome: ReduceOutcome) -> None:
    report_set_aside(logger, outcome, item="partial", key="partial_id", records="partials")
    if outcome.skipped:
        logger.info("partials applied before skipped", extra={"count": len(outcome.skipped)})
    extra = {"partials_skipped": len(outcome.skipped), "messages_applied": outcome.messages}
    add_counts(metrics, outcome.counts("partials") | extra)
    _report_latency(partials, outcome)


def _report_latency(partials: Sequence[Partial], outcome: ReduceOutcome) -> None:
    """End-to-end latency of the messages whose aggregates were applied now: from each message's Timestamp."""
    applied = {p.partial_id: p for p in partials if p.partial_id in outcome.applied}
    latency = end_to_end_latency(applied.values(), time.time())
    if latency is not None:
        largest, mean = latency
        metrics.add_metric(name="end_to_end_latency_max", unit=MetricUnit.Milliseconds, value=largest * 1000)
        metrics.add_metric(name="end_to_end_latency_mean", unit=MetricUnit.Milliseconds, value=mean * 1000)


# Built on the first invocation, once per instance, so that importing the module needs no configuration.
lambda_handler = cold_start(ReduceSettings.from_env, lambda s: build_handler(build_service(s), injected_failures(s)))
