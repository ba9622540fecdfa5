"""The data shapes that tests, labs and benchmarks build, each in one place: a RiskMessage, the Kinesis record
and event Lambda receives, the StateLambda's ``StreamRecord``, and the StateTable item (as written to the table
and as a DynamoDB stream image carries it).

Each builds on what riskpipe already has: the message is riskpipe's model, the ``StreamRecord`` is parsed by
riskpipe's own ``from_lambda_record``, and the StateTable item takes its attributes from the state store's
conditional write. Read the StateTable back with ``localpipe.stack.readback.read_state``.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from riskpipe.models import Hierarchy, RiskMessage
from riskpipe.state_service import StreamRecord
from riskpipe.state_store import expression_values

SHARD = "shardId-000000000000"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/risk"
HIERARCHY = Hierarchy(RiskType="Delta", Region="EMEA", TradeDesk="FXSpot")
_SEQUENCE_BASE = 49590338271490256608559692538361571095921575989136580000  # as Kinesis numbers them: 56 digits

Number = Decimal | int | str


def risk_message(
    trade: str = "T1",
    version: int = 0,
    value: Number = "1.00",
    *,
    hierarchy: Hierarchy = HIERARCHY,
    timestamp: Number = 1,
    checked: bool = True,
) -> RiskMessage:
    """A message as the producer sends it. ``checked=False`` skips the model's rules: a value the numeric
    domain refuses, as an item written before those rules holds it."""
    fields: dict[str, Any] = {
        "TradeID": trade,
        "Value": Decimal(value),
        "Version": version,
        "Timestamp": Decimal(timestamp),
        "Hierarchy": hierarchy,
    }
    return RiskMessage(**fields) if checked else RiskMessage.model_construct(**fields)


def sequence_number(index: int) -> str:
    """The sequence number of the ``index``-th record of a built event (increasing, Kinesis-sized)."""
    return str(_SEQUENCE_BASE + index)


def kinesis_record(
    data: bytes,
    partition_key: str,
    sequence: str,
    *,
    shard: str = SHARD,
    arrival: float = 1545084650.987,
    stream_arn: str = STREAM_ARN,
    region: str = "us-east-1",
    identity: str = "arn:aws:iam::123456789012:role/lambda-role",
) -> dict[str, Any]:
    """One record of the event Lambda's Kinesis event source mapping passes to the StateLambda (the local ESM
    model builds its deliveries with it too)."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": identity,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def kinesis_event(*items: RiskMessage | bytes, shard: str = SHARD) -> dict[str, Any]:
    """The StateLambda's event: one record per message (its TradeID the partition key), or per raw payload."""
    return {
        "Records": [
            kinesis_record(
                item.to_wire() if isinstance(item, RiskMessage) else item,
                item.TradeID if isinstance(item, RiskMessage) else "bad",
                sequence_number(index),
                shard=shard,
            )
            for index, item in enumerate(items)
        ]
    }


def stream_records(*items: RiskMessage | bytes, shard: str = SHARD) -> list[StreamRecord]:
    """The same records as the StateLambda's handler hands them to the domain."""
    return [StreamRecord.from_lambda_record(r) for r in kinesis_event(*items, shard=shard)["Records"]]


_STORED = {"Value": ":value", "Version": ":new_version", "Hierarchy": ":hierarchy", "Timestamp": ":timestamp"}
_DESERIALIZER = TypeDeserializer()


def state_item(message: RiskMessage, *, accepted_versions: int | None = None) -> dict[str, Any]:
    """The StateTable item that holds ``message``: the attributes the state store's conditional write sets, and
    (when given) how many versions the item has accepted."""
    values = expression_values(message)
    item: dict[str, Any] = {"pk": {"S": message.TradeID}, **{name: values[key] for name, key in _STORED.items()}}
    if accepted_versions is not None:
        item["AcceptedVersions"] = {"N": str(accepted_versions)}
    return item


def state_image(message: RiskMessage, *, stamped: bool = True) -> dict[str, Any]:
    """The StateTable item as a DynamoDB stream record's NewImage or OldImage carries it, deserialised as the
    aggregate handler reads it. ``stamped=False`` leaves the Timestamp out."""
    image = {name: _DESERIALIZER.deserialize(value) for name, value in state_item(message).items()}
    if not stamped:
        del image["Timestamp"]
    return image


def trade_image(
    version: int,
    value: Number,
    *,
    trade: str = "T",
    risk: str = "Delta",
    desk: str = "FXSpot",
    region: str = "AMER",
    stamped: bool = True,
    checked: bool = True,
) -> dict[str, Any]:
    """``state_image`` of one version of a trade, booked at the hierarchy's three levels (for the aggregation's
    unit tests, which move trades between desks and regions)."""
    hierarchy = Hierarchy(RiskType=risk, Region=region, TradeDesk=desk)
    message = risk_message(trade, version, value, hierarchy=hierarchy, checked=checked)
    return state_image(message, stamped=stamped)
