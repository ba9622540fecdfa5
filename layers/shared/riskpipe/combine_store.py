"""Data access for a combining lane of the aggregate stage: up to 99 partials deleted from the PartialTable under
``attribute_exists(pk)`` and ONE combined partial put into the ReduceTable (one partition key, the reducer's input)
under ``attribute_not_exists(pk)``, in ONE TransactWriteItems.

A partial delivered again (a lost checkpoint, a crash after the transaction, a second consumer) is gone already:
its delete's condition fails and cancels the transaction, which says which partials those were
(``PartialsGoneError``); nothing was written. The combined partial's key is the first deleted partial's plus a
suffix (``riskpipe.partials.combined_key``): only this transaction, which deletes that partial, writes it, so its
``attribute_not_exists`` condition never fails while the deletes hold; if it ever did, the error is raised as it is
and the partials are delivered again. The combined partial carries ``Combined`` true (``Partial.to_item``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from riskpipe.aggregate_store import cancellation_reasons
from riskpipe.partials import BY_PARTIAL, ONE_PARTITION
from riskpipe.reduce_store import partial_deletes, raise_for_partials

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from riskpipe.partials import CombineTransaction


class CombineStore:
    def __init__(self, partial_table: str, reduce_table: str, client: DynamoDBClient) -> None:
        self._partial_table = partial_table
        self._reduce_table = reduce_table
        self._client = client

    def apply(self, transaction: CombineTransaction) -> None:
        deletes = partial_deletes(self._partial_table, BY_PARTIAL, transaction.partial_ids)
        put = {
            "Put": {
                "TableName": self._reduce_table,
                "Item": transaction.combined.to_item(ONE_PARTITION),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[*deletes, put])  # type: ignore[list-item]
        except ClientError as exc:
            reasons = cancellation_reasons(exc)
            if reasons is None:
                raise
            raise_for_partials(transaction.partial_ids, reasons, exc, first=0)  # the deletes first
