"""How a function is put together: what every ``functions/*/app.py`` shares, so that each keeps only its own
three steps (parse the event, call the domain, report).

* ``cold_start(settings, build)``: the Lambda entry point. The first invocation of an instance reads and validates
  the settings from the environment (``settings``: a ``from_env``), builds the handler from them (``build``: the
  boto3 clients, the store, the service) and keeps it; every later invocation reuses it. Importing a function's
  module therefore needs no configuration, and tests build handlers with collaborators of their own through the
  module's ``build_handler``.
* ``Powertools``: one function's Logger, Metrics and Tracer, and their decorators in the order every handler uses.
* ``batch_handler``: a stream consumer's handler: the failures injected on purpose first, then the domain decides
  the whole batch, then Powertools' BatchProcessor reports the records that failed (``batchItemFailures``).
* ``report_set_aside`` and ``add_counts``: the log lines and the metrics of a batch applied in transactions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from riskpipe.chaos import FailureInjector
from riskpipe.outcomes import AppliedOutcome

NAMESPACE = "RiskPipeline"

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
# What a stream consumer's domain hands back for a batch: each record's result (raising for a record that failed).
RecordResult = Callable[[Any], str]


def cold_start[S](settings: Callable[[], S], build: Callable[[S], Handler]) -> Handler:
    """The entry point that builds its handler on first use, once per instance (a failed build is tried again)."""

    @functools.cache
    def built() -> Handler:
        return build(settings())

    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return built()(event, context)

    return lambda_handler


@dataclass(frozen=True)
class Powertools:
    logger: Logger
    metrics: Metrics
    tracer: Tracer

    @classmethod
    def of(cls, service: str) -> Powertools:
        return cls(Logger(service=service), Metrics(namespace=NAMESPACE, service=service), Tracer(service=service))

    def instrument(self, handler: Handler) -> Handler:
        """The Lambda context in every log line, the invocation traced, the metrics flushed (EMF) at its end."""
        handler = self.metrics.log_metrics(handler)
        handler = self.tracer.capture_lambda_handler(handler)
        return self.logger.inject_lambda_context(handler)


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
