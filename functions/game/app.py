"""Game loop: the workshop's scoring, on a schedule. Send a round, wait for the aggregates to move by exactly
what was sent, publish PipelineExact (1 or 0) and SecondsToExact.

Events it takes: ``{"profile": "workshop"}`` (the schedule's), optionally with ``"round_id"`` and ``"seed"``
to replay a round, and ``"calls"`` for a smaller round than the workshop's 250 PutRecords calls.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from riskpipe.aggregate_store import read_aggregates
from riskpipe.aws import dynamodb_client
from riskpipe.config import GameSettings
from riskpipe.game import check_round, plan_round
from riskpipe.producer import content_partition_key
from riskpipe.publisher import KinesisPublisher, PublishReport
from riskpipe.wiring import Handler, Powertools, cold_start

POWERTOOLS = Powertools.of("game")
logger, metrics = POWERTOOLS.logger, POWERTOOLS.metrics

AggregateReader = Callable[[], Mapping[str, Decimal]]


def build_handler(
    publisher: KinesisPublisher,
    read: AggregateReader,
    settings: GameSettings,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Handler:
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        round_id = str(event.get("round_id") or uuid.uuid4().hex[:8])
        seed = int(event.get("seed", random.SystemRandom().randrange(2**31)))
        planned = plan_round(round_id, seed, settings.aggregation_order, calls=int(event.get("calls", 250)))
        before = read()
        started = clock()
        report = PublishReport()
        for call in planned.calls:
            publisher.publish(call, report, partition_key=content_partition_key)
        deadline = started + settings.check_seconds
        while True:
            result = check_round(planned, before, read())
            if result.exact or clock() >= deadline:
                break
            sleep(1.0)
        seconds = clock() - started
        metrics.add_metric(name="PipelineExact", unit=MetricUnit.Count, value=1 if result.exact else 0)
        metrics.add_metric(name="messages_sent", unit=MetricUnit.Count, value=report.sent)
        if result.exact:
            metrics.add_metric(name="SecondsToExact", unit=MetricUnit.Seconds, value=seconds)
        outcome = {
            "round_id": round_id,
            "seed": seed,
            "sent": report.sent,
            "exact": result.exact,
            "seconds": round(seconds, 1),
            "versions_applied": str(result.applied),
            "differences": {k: [str(want), str(got)] for k, (want, got) in list(result.differences.items())[:10]},
        }
        (logger.info if result.exact else logger.error)("round scored", extra=outcome)
        return outcome

    return POWERTOOLS.instrument(handler)


def _build(settings: GameSettings) -> Handler:
    client = dynamodb_client()
    read = functools.partial(read_aggregates, client, settings.aggregate_table_name)
    return build_handler(KinesisPublisher.from_settings(settings), read, settings)


# Built on the first invocation, once per instance, so that importing the module needs no configuration.
lambda_handler = cold_start(GameSettings.from_env, _build)
