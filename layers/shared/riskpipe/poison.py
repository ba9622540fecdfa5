"""Data access for the poison-record queue: records that can never succeed, kept with their reason."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class PoisonRecord(BaseModel):
    """Everything needed to find, understand and replay a poison record."""

    model_config = ConfigDict(frozen=True)

    reason: str
    data_base64: str
    shard_id: str
    sequence_number: str
    partition_key: str
    event_source_arn: str
    approximate_arrival_timestamp: float | None = None

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.data_base64)


class PoisonQueue:
    def __init__(self, queue_url: str, client: SQSClient) -> None:
        self._queue_url = queue_url
        self._client = client

    def send(self, record: PoisonRecord) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=json.dumps(record.model_dump(), sort_keys=True),
            MessageAttributes={"reason": {"DataType": "String", "StringValue": record.reason[:256]}},
        )
