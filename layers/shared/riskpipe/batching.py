"""A stream consumer's handler, shared by the StateLambda, the map and the reduce (``wiring.py`` has the rest).

* ``batch_handler``: the failures injected on purpose first, then the domain decides the whole batch, then
  Powertools' BatchProcessor reports the records that failed (``batchItemFailures``).
* ``partials_handler``: ``batch_handler`` for a partials table's stream (the reduce, the combining lanes): each
  record's new image read as a ``Partial``, the whole batch applied by the domain, each record's result by its id.
* ``report_set_aside`` and ``add_counts``: the log lines and the metrics of a batch applied in transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from riskpipe.chaos import FailureInjector
from riskpipe.outcomes import AppliedOutcome
from riskpipe.partials import Partial
from riskpipe.partials_service import PartialApplier, PartialsOutcome
from riskpipe.wiring import Handler, Powertools

# What a stream consumer's domain hands back for a batch: each record's result (raising for a record that failed).
RecordResult = Callable[[Any], str]


def batch_handler(
    powertools: Powertools,
    event_type: EventType,
    decide: Callable[[dict[str, Any], LambdaContext], RecordResult],
    failures: FailureInjector | None = None,
) -> Handler:
    """``decide(event, context)`` decides the whole batch (and reports it), and returns each record's result."""
    processor = BatchProcessor(event_type=event_type)

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if failures is not None:
            failures.maybe_fail()  # before any work: the workshop's random failures, off by default
        result = decide(event, context)
        return dict(process_partial_response(event=event, record_handler=result, processor=processor, context=context))

    return powertools.instrument(handler)


def to_partial(record: DynamoDBRecord) -> Partial:
    """A partials table's stream record's partial (its new image: the mappings pass INSERTs only)."""
    assert record.dynamodb is not None and record.dynamodb.new_image is not None
    return Partial.from_image(record.dynamodb.new_image)


def partials_handler(
    powertools: Powertools,
    service: PartialApplier,
    report: Callable[[Sequence[Partial], PartialsOutcome], None],
    failures: FailureInjector | None = None,
) -> Handler:
    """A consumer of a partials table's stream (the ReduceTable's, the PartialTable's): ``service`` applies the
    batch's partials, ``report`` logs and counts what became of them, and each record fails or succeeds as its
    partial did."""

    def decide(event: dict[str, Any], context: LambdaContext) -> RecordResult:
        partials = [to_partial(DynamoDBRecord(r)) for r in event["Records"]]
        outcome = service.apply(partials)
        report(partials, outcome)
        return lambda record: outcome.result_for(to_partial(record).partial_id)

    return batch_handler(powertools, EventType.DynamoDBStreams, decide, failures)


def report_set_aside(logger: Logger, outcome: AppliedOutcome, *, item: str, key: str, records: str) -> None:
    """What went to the aggregate poison queue (each ``item`` by its ``key``: the totals need a reconcile) and what
    failed (Lambda delivers those ``records`` again)."""
    for identifier, reason in outcome.set_aside.items():
        logger.error(
            f"{item} set aside in the aggregate poison queue: the totals need a reconcile",
            extra={key: identifier, "reason": reason},
        )
    if outcome.failed:
        errors = sorted({repr(e) for e in outcome.failed.values()})
        count = len(outcome.failed)
        logger.warning(f"{records} failed; reported for redelivery", extra={"count": count, "errors": errors})


def add_counts(metrics: Metrics, counts: Mapping[str, int]) -> None:
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
