"""Combine Lambda, the combining level between the map and the one reducer (any number at once, on the
PartialTable's stream): turns up to 99 of the map's partials into ONE combined partial in the ReduceTable per
transaction, each partial deleted under condition so that none is combined twice; the reducer then sees a 99th of
the partials."""

from __future__ import annotations

from collections.abc import Sequence

import boto3

from riskpipe.aws import dynamodb_client, sqs_client
from riskpipe.batching import add_counts, partials_handler, report_set_aside
from riskpipe.chaos import FailureInjector
from riskpipe.combine_service import CombineOutcome, CombineService
from riskpipe.combine_store import CombineStore
from riskpipe.config import CombineSettings
from riskpipe.parameters import injected_failures
from riskpipe.partials import Partial
from riskpipe.partials_service import PartialApplier
from riskpipe.poison import SetAsideQueue
from riskpipe.wiring import Handler, Powertools, cold_start

POWERTOOLS = Powertools.of("combine")
logger, metrics = POWERTOOLS.logger, POWERTOOLS.metrics


def build_service(settings: CombineSettings, session: boto3.Session | None = None) -> CombineService:
    store = CombineStore(
        settings.partial_table_name,
        settings.reduce_table_name,
        dynamodb_client(max_attempts=settings.dynamodb_max_attempts, session=session),
    )
    return CombineService(
        store,
        set_aside=SetAsideQueue(settings.poison_queue_url, sqs_client(session=session)),
        max_attempts=settings.transaction_max_attempts,
    )


def build_handler(service: PartialApplier, failures: FailureInjector | None = None) -> Handler:
    return partials_handler(POWERTOOLS, service, _report, failures)


def _report(partials: Sequence[Partial], outcome: CombineOutcome) -> None:
    report_set_aside(logger, outcome, item="partial", key="partial_id", records="partials")
    if outcome.skipped:
        logger.info("partials combined before skipped", extra={"count": len(outcome.skipped)})
    counts = outcome.counts("partials")
    counts["partials_combined"] = counts.pop("partials_applied")
    extra = {
        "combined_partials_written": outcome.committed,
        "partials_skipped": len(outcome.skipped),
        "messages_combined": outcome.messages,
    }
    add_counts(metrics, counts | extra)


# Built on the first invocation, once per instance, so that importing the module needs no configuration.
lambda_handler = cold_start(CombineSettings.from_env, lambda s: build_handler(build_service(s), injected_failures(s)))
