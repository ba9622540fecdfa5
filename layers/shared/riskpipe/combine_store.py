"""Data access for a combining lane of the aggregate stage: up to 99 partials deleted under ``attribute_exists(pk)``
and ONE combined partial put under ``attribute_not_exists(pk)``, in ONE TransactWriteItems.

A partial delivered again (a lost checkpoint, a crash after the transaction, a second consumer) is gone already:
its delete's condition fails and cancels the transaction, which says which partials those were
(``PartialsGoneError``); nothing was written. The combined partial's key is the first deleted partial's plus a
suffix (``riskpipe.partials.combined_key``): only this transaction, which deletes that partial, writes it, so its
``attribute_not_exists`` condition never fails while the deletes hold; if it ever did, the error is raised as it is
and the partials are delivered again. The combined partial carries ``Combined``: the reducer's mapping takes only
the partials that do, the combining lanes' mapping only those that do not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from riskpipe.aggregate_store import cancellation_reasons
from riskpipe.reduce_store import partial_deletes, raise_for_partials

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from riskpipe.partials import CombineTransaction, Partial


def partial_item(partial: Partial) -> dict[str, AttributeValueTypeDef]:
    """A partial as the PartialTable holds it (what ``Partial.from_image`` reads back)."""
    item: dict[str, Any] = {
        "pk": {"S": partial.partial_id},
        "Deltas": {"M": {k: {"N": str(v)} for k, v in sorted(partial.deltas.items())}},
        "MessageCount": {"N": str(partial.message_count)},
    }
    if partial.timestamps is not None:  # the reduce reports end-to-end latency from them
        stamps = partial.timestamps
        item["TimestampMin"] = {"N": str(stamps.earliest)}
        item["TimestampMax"] = {"N": str(stamps.latest)}
        item["TimestampSum"] = {"N": str(stamps.total)}
        item["TimestampCount"] = {"N": str(stamps.count)}
    if partial.combined:
        item["Combined"] = {"BOOL": True}
    return item


class CombineStore:
    def __init__(self, partial_table: str, client: DynamoDBClient) -> None:
        self._partial_table = partial_table
        self._client = client

    def apply(self, transaction: CombineTransaction) -> None:
        deletes = partial_deletes(self._partial_table, transaction.partial_ids)
        put = {
            "Put": {
                "TableName": self._partial_table,
                "Item": partial_item(transaction.combined),
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
