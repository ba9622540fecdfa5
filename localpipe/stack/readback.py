"""Read a stack back (local or deployed, through any boto3 session): the StateTable as typed messages, the
AggregateTable, a queue's messages, the records on the stream; and where a stack keeps its tables
(``StackTables``). Used by the reports, the checks, reconcile and the tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "StackTables",
    "queue_bodies",
    "queue_depth",
    "read_aggregates",
    "read_partials",
    "read_state",
    "scan_state",
    "stream_records",
]

from boto3.dynamodb.types import TypeDeserializer

from riskpipe.aggregate_store import read_aggregates
from riskpipe.models import Hierarchy, RiskMessage
from riskpipe.partials import Partial


@dataclass(frozen=True)
class StackTables:
    """Where a stack keeps the truth, the totals and the markers, and how it aggregates."""

    state_table: str
    aggregate_table: str
    marker_table: str
    partial_table: str
    order: tuple[str, ...]


def read_state(client: Any, table: str) -> dict[str, RiskMessage]:
    """Every trade in the StateTable, as stored (see ``scan_state``)."""
    return scan_state(client, table)[0]


def scan_state(client: Any, table: str) -> tuple[dict[str, RiskMessage], dict[str, int | None]]:
    """Every trade in the StateTable, and how many versions of it the table accepted (its ``AcceptedVersions``;
    None for an item written before that attribute existed: it counts 1).

    Items are read as stored: the StateTable is the source of truth, so an item is not checked against today's
    message rules (one written before them still counts). An item without a Version (none is ever written so)
    is skipped."""
    items: dict[str, RiskMessage] = {}
    accepted: dict[str, int | None] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            if "Version" not in item:
                continue
            trade = item["pk"]["S"]
            items[trade] = RiskMessage.model_construct(
                TradeID=trade,
                Value=Decimal(item["Value"]["N"]),
                Version=int(item["Version"]["N"]),
                Timestamp=Decimal(item["Timestamp"]["N"]),
                Hierarchy=Hierarchy.model_construct(**json.loads(item["Hierarchy"]["S"])),
            )
            accepted[trade] = int(item["AcceptedVersions"]["N"]) if "AcceptedVersions" in item else None
    return items, accepted


def read_partials(client: Any, table: str) -> list[Partial]:
    """Every partial in the PartialTable (written by the map, not applied by the reduce yet)."""
    return [
        Partial.from_image(TypeDeserializer().deserialize({"M": item}))
        for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
    ]


def queue_bodies(client: Any, queue_url: str, *, delete: bool = False, release: bool = False) -> list[dict[str, Any]]:
    """Every message of a queue (JSON bodies), received until the queue answers empty; deleted with ``delete``,
    made visible again at the end with ``release`` (for the next reader: a redrive)."""
    bodies: list[dict[str, Any]] = []
    receipts: list[str] = []
    while True:
        messages = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            if delete:
                client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            receipts.append(message["ReceiptHandle"])
    for receipt in receipts if release and not delete else []:
        client.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return bodies


def queue_depth(client: Any, queue_url: str) -> int:
    attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def stream_records(client: Any, stream_name: str) -> list[tuple[str, dict[str, Any]]]:
    """Every record on every shard of a Kinesis stream, from TRIM_HORIZON to the end, with its shard id."""
    records: list[tuple[str, dict[str, Any]]] = []
    for shard in client.list_shards(StreamName=stream_name)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = client.get_records(ShardIterator=iterator, Limit=10_000)
            if not response["Records"]:  # an open shard never ends: stop at the first empty read
                break
            records.extend((shard["ShardId"], record) for record in response["Records"])
            iterator = response.get("NextShardIterator")
    return records
