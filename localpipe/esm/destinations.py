"""On-failure destinations of the local mappings: what Lambda sends when it gives a batch up (AWS's invocation record:
its shard, sequence range and size, never the payload), and the SQS queue it goes to."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from localpipe.esm.streams import SourceRecord
from localpipe.stack.template import EventSource


class DestinationSink(Protocol):
    def send(self, message: dict[str, Any], record_ids: Sequence[str]) -> None: ...


class SqsDestination:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: dict[str, Any], record_ids: Sequence[str]) -> None:
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(message, default=str))


def failure_message(
    config: EventSource,
    shard_id: str,
    records: Sequence[SourceRecord],
    condition: str,
    attempts: int,
    source_arn: str,
    now: float,
) -> dict[str, Any]:
    """The invocation record Lambda sends to a stream mapping's on-failure destination, for these records."""
    _, _, _, region, account, _ = source_arn.split(":", 5)
    return invocation_record(
        stream_arn=source_arn,
        shard_id=shard_id,
        start=records[0].sequence_number,
        end=records[-1].sequence_number,
        size=len(records),
        first_arrival=datetime.fromtimestamp(records[0].arrival, UTC),
        last_arrival=datetime.fromtimestamp(records[-1].arrival, UTC),
        function_arn=f"arn:aws:lambda:{region}:{account}:function:{config.function}",
        condition=condition,
        attempts=attempts,
        now=datetime.fromtimestamp(now, UTC),
        request_id=str(uuid.uuid4()),
    )


def invocation_record(
    *,
    stream_arn: str,
    shard_id: str,
    start: str,
    end: str,
    size: int,
    first_arrival: datetime,
    last_arrival: datetime,
    function_arn: str,
    condition: str,
    attempts: int,
    now: datetime,
    request_id: str,
) -> dict[str, Any]:
    """The invocation record Lambda sends to a stream mapping's on-failure destination (SQS or SNS) when it gives a
    batch up, as AWS documents it: ``KinesisBatchInfo`` for a Kinesis stream, ``DDBStreamBatchInfo`` for a DynamoDB
    stream, times in ISO 8601 (UTC, milliseconds), sequence numbers as strings; never the records."""
    kinesis = stream_arn.split(":")[2] == "kinesis"
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": _iso(now),
        "KinesisBatchInfo" if kinesis else "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": _iso(first_arrival),
            "approximateArrivalOfLastRecord": _iso(last_arrival),
            "batchSize": size,
            "streamArn": stream_arn,
        },
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
