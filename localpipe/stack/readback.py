"""Read a stack back (local or deployed, through any boto3 session): the StateTable as typed messages, the
AggregateTable, a queue's messages, the records on the stream; and where a stack keeps its tables
(``StackTables``). Used by the reports, the checks, reconcile and the tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "StackTables",
    "queue_bodies",
    "queue_depth",
    "read_aggregates",
    "read_partials",
    "read_pending",
    "read_state",
    "scan_state",
    "stream_records",
]

from boto3.dynamodb.types import TypeDeserializer

from riskpipe.aggregate_store import read_aggregates
from riskpipe.config import AggregateSettings
from riskpipe.models import Hierarchy, RiskMessage
from riskpipe.partials import BY_PARTIAL, ONE_PARTITION, Partial, PartialKeys

# StackTables' fields, each with the logical id of its table in template.yaml (its Output is "<id>Name").
TABLE_LOGICAL_IDS = {
    "state_table": "StateTable",
    "aggregate_table": "AggregateTable",
    "marker_table": "AggregateMarkerTable",
    "reduce_table": "ReduceTable",
    "partial_table": "PartialTable",  # with Combining "true" only
}


@dataclass(frozen=True)
class StackTables:
    """Where a stack keeps the truth, the totals, the markers and the partials waiting, and how it aggregates."""

    state_table: str
    aggregate_table: str
    marker_table: str
    reduce_table: str  # the reducer's input (one partition key)
    order: tuple[str, ...]
    partial_table: str | None = None  # the map's partials for the combining lanes, with Combining "true"

    @property
    def combining(self) -> bool:
        return self.partial_table is not None

    def partial_tables(self) -> dict[str, PartialKeys]:
        """The tables partials wait in, with how each keys them: the ReduceTable, and the PartialTable with the
        combining level on."""
        tables = {self.reduce_table: ONE_PARTITION}
        if self.partial_table is not None:
            tables[self.partial_table] = BY_PARTIAL
        return tables

    @classmethod
    def of(cls, names: Mapping[str, str], order: str | None) -> StackTables:
        """From the tables' names by logical id (a deployed stack's Outputs less their "Name", or a local stack's
        names) and the AggregationOrder parameter (None: its default)."""
        order = order or ",".join(AggregateSettings.model_fields["aggregation_order"].default)
        return cls(
            **{field: names[logical] for field, logical in TABLE_LOGICAL_IDS.items() if logical in names},
            order=tuple(level.strip() for level in order.split(",")),
        )

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str], parameters: Mapping[str, str]) -> StackTables:
        """A deployed stack's, as CloudFormation describes it (``deployed.describe_stack``)."""
        logicals = [logical for logical in TABLE_LOGICAL_IDS.values() if f"{logical}Name" in outputs]
        names = {logical: outputs[f"{logical}Name"] for logical in logicals}
        return cls.of(names, parameters.get("AggregationOrder"))


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
    """Every partial in a table of partials (the ReduceTable or the PartialTable): written, not applied yet."""
    return [
        Partial.from_image(TypeDeserializer().deserialize({"M": item}))
        for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
    ]


def read_pending(client: Any, tables: StackTables) -> dict[str, list[Partial]]:
    """Every partial waiting, by the table it waits in (the ReduceTable, and the PartialTable with the combining
    level on)."""
    return {table: read_partials(client, table) for table in tables.partial_tables()}


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
