"""Build the real handlers against a local stack, and read its tables and queues back."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import boto3

from functions.aggregate import app as aggregate_app
from functions.state import app as state_app
from localpipe.readback import queue_bodies
from localpipe.resources import Deployed
from riskpipe.config import AggregateSettings, StateSettings
from riskpipe.models import RiskMessage


def state_handler(stack: Deployed, session: boto3.Session | None = None, **settings: Any) -> Any:
    env = stack.function_env(stack.template.functions()["StateFunction"])
    # moto's stream numbering is not thread-safe (see localpipe/pipeline.py): serial writes against moto.
    settings = {"write_concurrency": 1, **settings}
    config = StateSettings.from_env({**env, **{k.upper(): str(v) for k, v in settings.items()}})
    return state_app.build_handler(state_app.build_service(config, session=session))


def aggregate_handler(stack: Deployed, session: boto3.Session | None = None) -> Any:
    env = stack.function_env(stack.template.functions()["AggregateFunction"])
    return aggregate_app.build_handler(aggregate_app.build_service(AggregateSettings.from_env(env), session=session))


def kinesis_event(*items: RiskMessage | bytes, shard: str = "shardId-000000000000") -> dict[str, Any]:
    records = []
    for index, item in enumerate(items):
        data = item.to_wire() if isinstance(item, RiskMessage) else item
        sequence = f"4959033827149025660855969253836157109592157598913658{index:04d}"
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": item.TradeID if isinstance(item, RiskMessage) else "bad",
                    "sequenceNumber": sequence,
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": 1545084650.987,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/risk",
            }
        )
    return {"Records": records}


def state_items(stack: Deployed) -> dict[str, dict[str, Any]]:
    client = stack.client("dynamodb")
    items = client.scan(TableName=stack.names["StateTable"], ConsistentRead=True)["Items"]
    return {
        item["pk"]["S"]: {
            "Version": int(item["Version"]["N"]),
            "Value": Decimal(item["Value"]["N"]),
            "Hierarchy": item["Hierarchy"]["S"],
            "Timestamp": Decimal(item["Timestamp"]["N"]),
        }
        for item in items
    }


def queue_messages(stack: Deployed, logical_id: str) -> list[dict[str, Any]]:
    return queue_bodies(stack.client("sqs"), stack.names[logical_id])
