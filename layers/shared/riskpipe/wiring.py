"""How a function is put together: what every ``functions/*/app.py`` shares, so that each keeps only its own
three steps (parse the event, call the domain, report).

* ``cold_start(settings, build)``: the Lambda entry point. The first invocation of an instance reads and validates
  the settings from the environment (``settings``: a ``from_env``), builds the handler from them (``build``: the
  boto3 clients, the store, the service) and keeps it; every later invocation reuses it. Importing a function's
  module therefore needs no configuration, and tests build handlers with collaborators of their own through the
  module's ``build_handler``.
* ``Powertools``: one function's Logger, Metrics and Tracer, and their decorators in the order every handler uses.

The stream consumers' batch handler is in ``batching.py``: the producer and the game do not import Powertools'
batch utility (it loads every event data class, a cold-start cost they do not need).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

NAMESPACE = "RiskPipeline"

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


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
