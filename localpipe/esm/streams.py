"""The streams as a Lambda event source mapping reads them: every shard of a Kinesis stream or a DynamoDB stream from
TRIM_HORIZON, each record in the shape Lambda hands to a function (``SourceRecord.lambda_record``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from localpipe.stack.shapes import kinesis_record


@dataclass(frozen=True)
class SourceRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    arrival: float
    lambda_record: dict[str, Any]

    @property
    def record_id(self) -> str:
        """Sequence numbers are unique within a shard only."""
        return f"{self.shard_id}:{self.sequence_number}"


class StreamReader(Protocol):
    def poll(self) -> list[SourceRecord]: ...


class KinesisReader:
    """Reads every shard of a Kinesis stream from TRIM_HORIZON, remembering where it stopped."""

    def __init__(self, client: Any, stream_name: str, stream_arn: str, region: str) -> None:
        self._client = client
        self._stream_name = stream_name
        self._stream_arn = stream_arn
        self._region = region
        self._iterators: dict[str, str | None] = {}
        self._last_seen: dict[str, int] = {}

    def poll(self) -> list[SourceRecord]:
        if not self._iterators:  # the local stream is never resharded: its shards are listed once
            for shard in self._client.list_shards(StreamName=self._stream_name)["Shards"]:
                self._iterators[shard["ShardId"]] = self._client.get_shard_iterator(
                    StreamName=self._stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        return _read_new(self._client, self._iterators, self._last_seen, 10000, self._to_source, "SequenceNumber")

    def _to_source(self, shard_id: str, record: dict[str, Any]) -> SourceRecord:
        arrival = _epoch(record["ApproximateArrivalTimestamp"])
        lambda_record = kinesis_record(
            record["Data"],
            record["PartitionKey"],
            record["SequenceNumber"],
            shard=shard_id,
            arrival=arrival,
            stream_arn=self._stream_arn,
            region=self._region,
            identity="arn:aws:iam::123456789012:role/local-esm",
        )
        return SourceRecord(shard_id, record["SequenceNumber"], record["PartitionKey"], arrival, lambda_record)


class DynamoDBStreamReader:
    """Reads every shard of a DynamoDB stream from TRIM_HORIZON.

    Each poll starts from a fresh iterator after the last record read: moto answers a cancelled transaction by
    restoring a deep copy of every table it named, stream included, so an iterator taken before then reads a
    stream that no longer grows (the ReduceTable is in both the map's and the reduce's transactions).
    """

    def __init__(self, client: Any, stream_arn: str) -> None:
        self._client = client
        self._stream_arn = stream_arn
        self._iterators: dict[str, str | None] = {}
        self._last_seen: dict[str, int] = {}

    def poll(self) -> list[SourceRecord]:
        if not self._iterators:  # a local table's stream keeps its shards: they are described once
            shards = self._client.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
            self._iterators = dict.fromkeys((shard["ShardId"] for shard in shards), None)
        for shard_id in self._iterators:
            after = self._last_seen.get(shard_id)
            position: dict[str, str] = (
                {"ShardIteratorType": "TRIM_HORIZON"}
                if after is None
                else {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": str(after)}
            )
            self._iterators[shard_id] = self._client.get_shard_iterator(
                StreamArn=self._stream_arn, ShardId=shard_id, **position
            )["ShardIterator"]
        return _read_new(self._client, self._iterators, self._last_seen, 1000, self._to_source, None)

    def _to_source(self, shard_id: str, record: dict[str, Any]) -> SourceRecord:
        stream = dict(record["dynamodb"])
        arrival = _epoch(stream.get("ApproximateCreationDateTime", time.time()))
        stream["ApproximateCreationDateTime"] = arrival
        lambda_record = {**record, "dynamodb": stream, "eventSourceARN": self._stream_arn}
        key = json.dumps(stream["Keys"], sort_keys=True)
        return SourceRecord(shard_id, stream["SequenceNumber"], key, arrival, lambda_record)


def _read_new(
    client: Any,
    iterators: dict[str, str | None],
    last_seen: dict[str, int],
    limit: int,
    to_source: Callable[[str, dict[str, Any]], SourceRecord],
    sequence_key: str | None,
) -> list[SourceRecord]:
    """Read each shard from its iterator up to its end, keeping only records newer than the last one
    returned. moto's DynamoDB streams iterator does not always advance and can hand back records already
    read: without this the reader would deliver them twice, or never reach the end."""
    records: list[SourceRecord] = []
    for shard_id, iterator in iterators.items():
        while iterator:
            response = client.get_records(ShardIterator=iterator, Limit=limit)
            iterator = response.get("NextShardIterator")
            fresh = []
            for raw in response["Records"]:
                sequence = int(raw[sequence_key] if sequence_key else raw["dynamodb"]["SequenceNumber"])
                if sequence > last_seen.get(shard_id, -1):
                    last_seen[shard_id] = sequence
                    fresh.append(to_source(shard_id, raw))
            records.extend(fresh)
            # A short page means the end for now; what arrives later is read from the same iterator next poll.
            if not fresh or len(response["Records"]) < limit:
                break
        iterators[shard_id] = iterator
    return records


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)
