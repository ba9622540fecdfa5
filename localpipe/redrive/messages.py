"""What the redrive reads in its queues, as typed values (pure: no AWS call here).

* a stream mapping's on-failure message is AWS's invocation record: ``requestContext``, ``responseContext``,
  ``version``, ``timestamp`` and ``KinesisBatchInfo`` (the StateLambda's mapping) or ``DDBStreamBatchInfo`` (the
  map's and the reduce's): the shard and the first and last sequence numbers of the batch given up, never its
  records (``BatchInfo``);
* a poison message is the StateLambda's ``PoisonRecord`` (the record's data, shard, sequence number, partition key
  and the reason it could not be decoded);
* a set-aside message is the map's ``SetAsideChange`` or the reduce's ``SetAsidePartial`` (with DynamoDB's reason).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamLambdaOnFailureDestinationModel
from aws_lambda_powertools.utilities.parser.models.dynamodb import DDBStreamBatchInfo
from pydantic import ValidationError

from riskpipe.aggregation import SetAsideChange
from riskpipe.models import PoisonRecord
from riskpipe.partials import SetAsidePartial

BATCH_INFO_KEYS = ("KinesisBatchInfo", "DDBStreamBatchInfo")


class MalformedMessageError(ValueError):
    """A queue message that is not what its queue holds: kept, and counted."""


@dataclass(frozen=True)
class QueueMessage:
    """One message received from a queue: its body, and the receipt that deletes it or makes it visible again."""

    queue: str  # the stage it belongs to: state, map, reduce, poison, set aside
    message_id: str
    receipt: str
    body: str

    def json(self) -> dict[str, Any]:
        try:
            body = json.loads(self.body)
        except ValueError as exc:
            raise MalformedMessageError(f"message {self.message_id} is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise MalformedMessageError(f"message {self.message_id} is not a JSON object")
        return body


@dataclass(frozen=True)
class BatchInfo:
    """The batch an on-failure message stands for: a range of one shard of one stream."""

    shard_id: str
    start: str  # the first and last sequence numbers, as the stream numbers them (decimal strings)
    end: str
    size: int
    stream_arn: str
    first_arrival: datetime | None

    def covers(self, sequence_number: str) -> bool:
        return int(self.start) <= int(sequence_number) <= int(self.end)

    @property
    def stream_name(self) -> str:
        """A Kinesis stream's name, from its ARN (``arn:aws:kinesis:<region>:<account>:stream/<name>``)."""
        return self.stream_arn.rsplit("/", 1)[-1]


def batch_info(message: QueueMessage) -> BatchInfo:
    """The range an on-failure message (AWS's invocation record) names, read with Powertools' model of it (the
    ``DDBStreamBatchInfo`` one: a ``KinesisBatchInfo`` has the same fields)."""
    body = message.json()
    kinds = [key for key in BATCH_INFO_KEYS if isinstance(body.get(key), Mapping)]
    if len(kinds) != 1:
        raise MalformedMessageError(f"message {message.message_id} holds no KinesisBatchInfo or DDBStreamBatchInfo")
    try:
        if kinds[0] == "DDBStreamBatchInfo":
            info = DynamoDBStreamLambdaOnFailureDestinationModel.model_validate(body).ddb_stream_batch_info
        else:
            info = DDBStreamBatchInfo.model_validate(body["KinesisBatchInfo"])
        if int(info.start_sequence_number) > int(info.end_sequence_number):
            raise ValueError(
                f"its range starts after it ends ({info.start_sequence_number} > {info.end_sequence_number})"
            )
    except (ValidationError, ValueError) as exc:
        raise MalformedMessageError(f"message {message.message_id}: not AWS's invocation record: {exc}") from exc
    return BatchInfo(
        shard_id=info.shard_id,
        start=info.start_sequence_number,
        end=info.end_sequence_number,
        size=info.batch_size,
        stream_arn=info.stream_arn,
        first_arrival=info.approximate_arrival_of_first_record,
    )


def poison_record(message: QueueMessage) -> PoisonRecord:
    try:
        return PoisonRecord.model_validate(message.json())
    except ValidationError as exc:
        raise MalformedMessageError(f"message {message.message_id} is not a poison record: {exc}") from exc


def set_aside(message: QueueMessage) -> SetAsideChange | SetAsidePartial:
    """A change the map set aside (it has a sequence number), or a partial the reduce set aside (a partial id)."""
    body = message.json()
    kind: type[SetAsideChange] | type[SetAsidePartial] = SetAsidePartial if "partial_id" in body else SetAsideChange
    names = {f.name for f in fields(kind)}
    if not names <= set(body):
        raise MalformedMessageError(f"message {message.message_id} is not a set-aside change or partial")
    return kind(**{name: body[name] for name in names})
