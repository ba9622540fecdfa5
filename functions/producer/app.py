"""Producer: puts versioned risk messages on the Kinesis stream.

Events it takes:
* ``{"messages": [...]}``: sends exactly those messages;
* ``{"count": N, "trades": K, "seed": S, "duplicates": p}``: generates N messages over K trades;
* ``{"profile": "workshop", "seed": S, "lab": 2}``: the DynamoDB workshop generator's burst (250 calls of 40;
  in lab 2, 5 of each 40 are copies and ~3% revisions with new content), keyed by the SHA-256 of each message.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, model_validator

from riskpipe.config import ProducerSettings
from riskpipe.models import RiskMessage
from riskpipe.producer import content_partition_key, generate_messages, workshop_calls
from riskpipe.publisher import KinesisPublisher, PublishReport
from riskpipe.wiring import Handler, Powertools, cold_start

POWERTOOLS = Powertools.of("producer")
logger, metrics = POWERTOOLS.logger, POWERTOOLS.metrics


def _exact(value: Any) -> Any:
    """Lambda hands JSON numbers over as floats; their shortest repr is the text that was sent."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


class SendMessages(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[RiskMessage]

    @model_validator(mode="before")
    @classmethod
    def _floats_to_decimals(cls, data: Any) -> Any:
        return _exact(data)


class GenerateMessages(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: Annotated[int, Field(ge=0, le=1_000_000)]
    trades: Annotated[int, Field(ge=1)]
    seed: int = 0
    duplicates: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0


class WorkshopProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Literal["workshop"]
    seed: int = 0
    lab: Literal[1, 2] = 2  # lab 1: new trades only; lab 2: revisions and copies (the generator's SPECIAL_TRADES)


def build_handler(publisher: KinesisPublisher) -> Handler:
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        report = PublishReport()
        if "messages" in event:
            publisher.publish(parse(event=event, model=SendMessages).messages, report)
        elif "profile" in event:
            request = parse(event=event, model=WorkshopProfile)
            for call in workshop_calls(seed=request.seed, special_trades=request.lab == 2):
                publisher.publish(call, report, partition_key=content_partition_key)
        else:
            generate = parse(event=event, model=GenerateMessages)
            publisher.publish(
                generate_messages(generate.count, generate.trades, seed=generate.seed, duplicates=generate.duplicates),
                report,
            )
        metrics.add_metric(name="messages_sent", unit=MetricUnit.Count, value=report.sent)
        metrics.add_metric(name="entries_resent", unit=MetricUnit.Count, value=report.resent_entries)
        logger.info(
            "messages sent", extra={"sent": report.sent, "calls": report.calls, "resent": report.resent_entries}
        )
        return {"sent": report.sent, "put_records_calls": report.calls, "resent_entries": report.resent_entries}

    return POWERTOOLS.instrument(handler)


# Built on the first invocation, once per instance, so that importing the module needs no configuration.
lambda_handler = cold_start(ProducerSettings.from_env, lambda s: build_handler(KinesisPublisher.from_settings(s)))
