"""Data access for the poison-record queue: records that can never succeed, kept with their reason."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from riskpipe.aggregation import SetAsideChange
    from riskpipe.models import PoisonRecord
    from riskpipe.partials import SetAsidePartial


class PoisonQueue:
    def __init__(self, queue_url: str, client: SQSClient) -> None:
        self._queue_url = queue_url
        self._client = client

    def send(self, record: PoisonRecord) -> None:
        self.send_body(record.model_dump(), record.reason)

    def send_body(self, body: Mapping[str, Any], reason: str) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=json.dumps(body, sort_keys=True),
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:256]}},
        )


class SetAsideQueue:
    """The aggregate stage's poison queue: changes (the map) and partials (the reduce) that DynamoDB refuses as
    invalid, each with its reason."""

    def __init__(self, queue_url: str, client: SQSClient) -> None:
        self._queue = PoisonQueue(queue_url, client)

    def send(self, change: SetAsideChange | SetAsidePartial) -> None:
        self._queue.send_body(dataclasses.asdict(change), change.reason)
