"""Data access for the reduce of the aggregate stage: summed partials ADDed to the AggregateTable and each partial
deleted under ``attribute_exists(pk)``, in ONE TransactWriteItems.

A partial delivered again (a lost checkpoint, a crash after the transaction) is gone already: its delete's
condition fails and cancels the transaction, which says which partials those were; nothing was written. A sum
DynamoDB cannot store (more than 38 digits, out of range) is refused as invalid: ``InvalidChangeError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from riskpipe.aggregate_store import add_item, cancellation_reasons, raise_for_other_reasons
from riskpipe.errors import PartialsGoneError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from riskpipe.partials import ReduceTransaction


class ReduceStore:
    def __init__(self, aggregate_table: str, partial_table: str, client: DynamoDBClient) -> None:
        self._aggregate_table = aggregate_table
        self._partial_table = partial_table
        self._client = client

    def apply(self, transaction: ReduceTransaction) -> None:
        adds = [add_item(self._aggregate_table, k, v) for k, v in sorted(transaction.deltas.items())]
        deletes: list[TransactWriteItemTypeDef] = [
            {
                "Delete": {
                    "TableName": self._partial_table,
                    "Key": {"pk": {"S": partial_id}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
            for partial_id in transaction.partial_ids
        ]
        try:
            self._client.transact_write_items(TransactItems=[*adds, *deletes])
        except ClientError as exc:
            reasons = cancellation_reasons(exc)
            if reasons is None:
                raise
            delete_reasons = reasons[len(adds) :]  # the deletes come after the adds, in partial order
            gone = {
                partial_id
                for partial_id, reason in zip(transaction.partial_ids, delete_reasons, strict=False)
                if reason.get("Code") == "ConditionalCheckFailed"
            }
            if gone:
                raise PartialsGoneError(gone) from exc
            raise_for_other_reasons(reasons, exc)
