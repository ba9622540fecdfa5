"""On-failure destinations of the local mappings: what Lambda sends when it gives a batch up (its metadata: shard,
sequence range, size, never the payload), and the SQS queue it goes to."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
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
    """The invocation record Lambda sends to a stream mapping's on-failure destination."""
    info_key = "KinesisBatchInfo" if config.kind == "Kinesis" else "DDBStreamBatchInfo"
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"local:{config.function}",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": datetime.fromtimestamp(now).isoformat(),
        info_key: {
            "shardId": shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": records[0].arrival,
            "approximateArrivalOfLastRecord": records[-1].arrival,
            "batchSize": len(records),
            "streamArn": source_arn,
        },
    }
