"""Data access for the reduce of the aggregate stage: summed partials ADDed to the AggregateTable and each partial
deleted from the ReduceTable (one partition key, the partial's id as sort key: ``riskpipe.partials.ONE_PARTITION``)
under ``attribute_exists(pk)``, in ONE TransactWriteItems.

A partial delivered again (a lost checkpoint, a crash after the transaction) is gone already: its delete's
condition fails and cancels the transaction, which says which partials those were; nothing was written. A sum
DynamoDB cannot store (more than 38 digits, out of range) is refused as invalid: ``InvalidChangeError``.
``partial_deletes`` and ``raise_for_partials`` are the combining lanes' too (``combine_store.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from riskpipe.aggregate_store import add_item, cancellation_reasons, raise_for_other_reasons
from riskpipe.errors import PartialsGoneError
from riskpipe.partials import ONE_PARTITION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from riskpipe.partials import PartialKeys, ReduceTransaction


def partial_deletes(table: str, keys: PartialKeys, partial_ids: Sequence[str]) -> list[TransactWriteItemTypeDef]:
    """Each partial deleted from ``table`` (keyed by ``keys``) under ``attribute_exists(pk)``: a partial applied
    before cancels the transaction."""
    return [
        {"Delete": {"TableName": table, "Key": keys.key(partial_id), "ConditionExpression": "attribute_exists(pk)"}}
        for partial_id in partial_ids
    ]


def raise_for_partials(
    partial_ids: Sequence[str], reasons: list[dict[str, Any]], exc: ClientError, *, first: int
) -> None:
    """Why a transaction whose deletes of ``partial_ids`` start at item ``first`` was cancelled: those partials gone
    (``PartialsGoneError``), or what ``raise_for_other_reasons`` finds."""
    delete_reasons = reasons[first : first + len(partial_ids)]
    gone = {
        partial_id
        for partial_id, reason in zip(partial_ids, delete_reasons, strict=False)
        if reason.get("Code") == "ConditionalCheckFailed"
    }
    if gone:
        raise PartialsGoneError(gone) from exc
    raise_for_other_reasons(reasons, exc)


class ReduceStore:
    def __init__(self, aggregate_table: str, reduce_table: str, client: DynamoDBClient) -> None:
        self._aggregate_table = aggregate_table
        self._reduce_table = reduce_table
        self._client = client

    def apply(self, transaction: ReduceTransaction) -> None:
        adds = [add_item(self._aggregate_table, k, v) for k, v in sorted(transaction.deltas.items())]
        deletes = partial_deletes(self._reduce_table, ONE_PARTITION, transaction.partial_ids)
        try:
            self._client.transact_write_items(TransactItems=[*adds, *deletes])
        except ClientError as exc:
            reasons = cancellation_reasons(exc)
            if reasons is None:
                raise
            raise_for_partials(transaction.partial_ids, reasons, exc, first=len(adds))  # the deletes after the adds
