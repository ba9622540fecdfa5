"""The redrive's data access (boto3 clients, given): its queues, the risk stream, the tables' streams, the tables, and
the map's and the reduce's own services over them.

* ``Queues``: every message of a queue is received (hidden from other readers for ``visibility`` seconds), then
  deleted once what it stands for is applied or re-sent, or made visible again at once when it is kept;
* ``RiskStream``: a range given up by the StateLambda's mapping, read back from its shard (``AT_SEQUENCE_NUMBER``);
  records put on the stream again with their partition keys;
* ``TableStreams``: a range given up by the map's, the combining lanes' or the reduce's mapping, read back from its
  table's stream;
* ``Tables``: the StateTable's items, the markers, the partials left (in the ReduceTable, and with the combining
  level in the PartialTable); and the map's, the combine's and the reduce's services, as the functions build them but
  with no set-aside queue (the queue policy lets only the functions send to it: a change or a partial DynamoDB still
  refuses stays where it is, and is counted).

A range that is no longer in its stream (past the retention, the shard gone) reads as ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from localpipe.redrive.messages import BatchInfo, MalformedMessageError, QueueMessage, batch_info
from localpipe.redrive.plan import Ranges, StreamedRecord
from localpipe.stack.readback import StackTables, read_partials
from riskpipe.aggregate_service import AggregateService
from riskpipe.aggregate_store import MarkerStore, marker_state, partial_put
from riskpipe.aggregation import AppliedState
from riskpipe.combine_service import CombineService
from riskpipe.combine_store import CombineStore
from riskpipe.partials import Partial, PartialKeys
from riskpipe.publisher import KinesisPublisher
from riskpipe.reduce_service import ReduceService
from riskpipe.reduce_store import ReduceStore

# What a stream answers for a range it no longer holds (trimmed past its retention, or a shard gone).
GONE = frozenset(
    {
        "ResourceNotFoundException",
        "TrimmedDataAccessException",
        "ExpiredIteratorException",
        "InvalidArgumentException",
        "ValidationException",
    }
)
EMPTY_PAGES = 5  # reads that return nothing before a range's end is taken as not there
_DESERIALIZER = TypeDeserializer()


def plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (typed attribute values) as plain values: numbers as Decimal."""
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


class Queues:
    def __init__(self, sqs: Any, urls: Mapping[str, str], *, visibility: int = 900, wait_seconds: int = 1) -> None:
        self._sqs = sqs
        self._urls = urls
        self._visibility = visibility
        self._wait_seconds = wait_seconds  # long polling: a short poll may answer empty while messages wait

    def has(self, stage: str) -> bool:
        """Whether the stack has the stage's queue (the combining lanes' only with the combining level)."""
        return stage in self._urls

    def receive(self, stage: str) -> list[QueueMessage]:
        """Every message of the stage's queue, hidden from other readers until deleted or released."""
        received: dict[str, QueueMessage] = {}
        while True:
            page = self._sqs.receive_message(
                QueueUrl=self._urls[stage],
                MaxNumberOfMessages=10,
                VisibilityTimeout=self._visibility,
                WaitTimeSeconds=self._wait_seconds,
            ).get("Messages", [])
            if not page:
                return list(received.values())
            for m in page:
                received[m["MessageId"]] = QueueMessage(stage, m["MessageId"], m["ReceiptHandle"], m["Body"])

    def delete(self, messages: Iterable[QueueMessage]) -> None:
        for message in messages:
            self._sqs.delete_message(QueueUrl=self._urls[message.queue], ReceiptHandle=message.receipt)

    def release(self, messages: Iterable[QueueMessage]) -> None:
        """Visible again at once: a message kept is there for the next run (and for its alarm)."""
        for message in messages:
            self._sqs.change_message_visibility(
                QueueUrl=self._urls[message.queue], ReceiptHandle=message.receipt, VisibilityTimeout=0
            )


def _pages(read: Any, iterator: str | None, limit: int) -> Iterator[list[dict[str, Any]]]:
    """A shard's pages from ``iterator`` on; a run of empty pages (an open shard's end) stops it."""
    empty = 0
    while iterator and empty < EMPTY_PAGES:
        response = read(ShardIterator=iterator, Limit=limit)
        records = response.get("Records", [])
        empty = 0 if records else empty + 1
        yield records
        iterator = response.get("NextShardIterator")


def _within(pages: Iterator[list[dict[str, Any]]], info: BatchInfo, sequence: Any) -> list[dict[str, Any]] | None:
    """The records of the range, or None when the stream no longer holds all of it."""
    end = int(info.end)
    found: list[dict[str, Any]] = []
    for page in pages:
        inside = [record for record in page if int(sequence(record)) <= end]
        found.extend(inside)
        if len(inside) < len(page) or (found and int(sequence(found[-1])) == end):
            break
    whole = bool(found) and sequence(found[0]) == info.start and sequence(found[-1]) == info.end
    return found if whole else None


def _range(shard_iterator: Callable[[], str], read: Any, info: BatchInfo, sequence: Any) -> list[dict[str, Any]] | None:
    """The records of a range read from ``shard_iterator()`` on (its first record), or None when its stream no
    longer holds all of it."""
    try:
        return _within(_pages(read, shard_iterator(), 1000), info, sequence)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in GONE:
            return None
        raise


class RiskStream:
    def __init__(self, kinesis: Any, stream_name: str) -> None:
        self._kinesis = kinesis
        self._publisher = KinesisPublisher(stream_name, kinesis)

    def read(self, info: BatchInfo) -> list[StreamedRecord] | None:
        """The records of a range the StateLambda gave up, as they are on the stream; None when gone."""

        def shard_iterator() -> str:
            return str(
                self._kinesis.get_shard_iterator(
                    StreamName=info.stream_name,
                    ShardId=info.shard_id,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    StartingSequenceNumber=info.start,
                )["ShardIterator"]
            )

        records = _range(shard_iterator, self._kinesis.get_records, info, lambda r: r["SequenceNumber"])
        if records is None:
            return None
        return [
            StreamedRecord("state", info.shard_id, r["SequenceNumber"], r["PartitionKey"], bytes(r["Data"]))
            for r in records
        ]

    def put(self, records: Sequence[StreamedRecord]) -> None:
        self._publisher.put([(r.data, r.partition_key) for r in records])


class TableStreams:
    def __init__(self, streams: Any) -> None:
        self._streams = streams

    def read(self, info: BatchInfo) -> list[dict[str, Any]] | None:
        """The stream records of a range the map or the reduce gave up (``dynamodb.Keys``, ``NewImage``...); None
        when gone."""

        def shard_iterator() -> str:
            return str(
                self._streams.get_shard_iterator(
                    StreamArn=info.stream_arn,
                    ShardId=info.shard_id,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=info.start,
                )["ShardIterator"]
            )

        return _range(shard_iterator, self._streams.get_records, info, lambda r: r["dynamodb"]["SequenceNumber"])

    def ranges(
        self, messages: list[QueueMessage], holds: Callable[[list[dict[str, Any]]], set[str]]
    ) -> tuple[Ranges, list[QueueMessage]]:
        """Each on-failure message with the keys its range holds (``holds(records)``; None when the range is gone),
        and the messages that are not on-failure messages."""
        ranges: Ranges = []
        malformed: list[QueueMessage] = []
        for message in messages:
            try:
                records = self.read(batch_info(message))
            except MalformedMessageError:
                malformed.append(message)
                continue
            ranges.append((message, None if records is None else holds(records)))
        return ranges, malformed


class Tables:
    def __init__(self, dynamodb: Any, names: StackTables) -> None:
        self.client = dynamodb
        self.names = names

    def _get(self, table: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Items by key, each read consistently (a range holds at most a batch's trades)."""
        items: dict[str, dict[str, Any]] = {}
        for key in sorted(set(keys)):
            item = self.client.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
            if item is not None:
                items[key] = item
        return items

    def _scan(self, table: str) -> dict[str, dict[str, Any]]:
        pages = self.client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        return {item["pk"]["S"]: item for page in pages for item in page["Items"]}

    def state(self, trades: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """StateTable items (plain values, as a stream image carries them) of these trades, or of every trade."""
        found = self._scan(self.names.state_table) if trades is None else self._get(self.names.state_table, trades)
        return {trade: plain(item) for trade, item in found.items() if "Version" in item}

    def versions(self, trades: Iterable[str]) -> dict[str, int]:
        return {trade: int(item["Version"]) for trade, item in self.state(trades).items()}

    def markers(self, trades: Iterable[str]) -> dict[str, AppliedState]:
        found = self._get(self.names.marker_table, trades)
        return {trade: marker_state(item) for trade, item in found.items() if "AppliedVersion" in item}

    def reduce_partials(self) -> list[Partial]:
        """The partials waiting for the reduce, in the ReduceTable."""
        return read_partials(self.client, self.names.reduce_table)

    def combine_partials(self) -> list[Partial]:
        """The partials waiting for the combining lanes, in the PartialTable (none without the combining level)."""
        table = self.names.partial_table
        return [] if table is None else read_partials(self.client, table)

    def map_service(self) -> AggregateService:
        names = self.names
        effect = partial_put(names.partial_table or names.reduce_table, PartialKeys.of_map(names.combining))
        return AggregateService(MarkerStore(names.marker_table, self.client, effect=effect), names.order)

    def combine_service(self) -> CombineService:
        if self.names.partial_table is None:
            raise ValueError("no combining level: the stack has no PartialTable")
        return CombineService(CombineStore(self.names.partial_table, self.names.reduce_table, self.client))

    def reduce_service(self) -> ReduceService:
        return ReduceService(ReduceStore(self.names.aggregate_table, self.names.reduce_table, self.client))
