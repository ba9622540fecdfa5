"""What every benchmark shares: a row of the result table, a fresh stack from template.yaml in moto, and the
messages to send."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from localpipe.resources import Deployed, deploy
from localpipe.server import local_aws_environment
from localpipe.template import Template
from riskpipe.models import RiskMessage
from riskpipe.state_service import StreamRecord


@dataclass
class Row:
    """One figure of the table: what, the figure, the target (if any), whether it is met, and how it was measured."""

    group: str
    what: str
    figure: float
    unit: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@contextlib.contextmanager
def moto_stack(**overrides: Any) -> Iterator[tuple[boto3.Session, Deployed]]:
    """The template's resources in moto, in process (fast, for counting calls; never for timing)."""
    from moto import mock_aws  # imported here: the memory benchmark's interpreter must not carry moto

    with mock_aws(), local_aws_environment(None) as session:
        yield session, deploy(Template.load(overrides=overrides), session)


def stream_records(messages: Sequence[RiskMessage], shard: str = "shardId-000000000000") -> list[StreamRecord]:
    return [
        StreamRecord(
            sequence_number=f"{index:056d}",
            shard_id=shard,
            partition_key=message.TradeID,
            data=message.to_wire(),
        )
        for index, message in enumerate(messages)
    ]


def kinesis_event(messages: Sequence[RiskMessage]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": m.TradeID,
                    "sequenceNumber": f"{i:056d}",
                    "data": base64.b64encode(m.to_wire()).decode(),
                    "approximateArrivalTimestamp": 1.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{i:056d}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/risk",
            }
            for i, m in enumerate(messages)
        ]
    }


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def create_table(client: Any, name: str, *, stream: bool = False) -> None:
    """A table keyed by a string ``pk``-style key named ``id`` (or ``pk`` with a stream, like the StateTable)."""
    key = "pk" if stream else "id"
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        **({"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}),
    )
