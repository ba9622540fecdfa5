"""Data access for the aggregates: a sub-batch's deltas and its markers in ONE TransactWriteItems.

Each trade's marker (in the marker table, kept out of the AggregateTable that the frontend scans) holds
the last version applied to the aggregates. The transaction advances it only if it is older than the
sub-batch's first change of that trade, so the effect and its de-duplication record cannot drift apart:
both are written, or neither is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from riskpipe.aggregation import MESSAGE_COUNT_ID, SubBatch

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class AlreadyAppliedError(Exception):
    """Some markers show changes of this sub-batch already applied (a redelivery). Nothing was written."""

    def __init__(self, applied_versions: dict[str, int]) -> None:
        super().__init__(f"already applied: {applied_versions}")
        self.applied_versions = applied_versions


class TransactionConflictError(Exception):
    """Another transaction touched the same items at the same time. Nothing was written; retry."""


class InvalidChangeError(Exception):
    """DynamoDB refuses the transaction as invalid (not throttling, not a conflict): a retry is refused again.
    Nothing was written. Its message is DynamoDB's (for a sum: too many digits, or out of range)."""


class AggregateStore:
    def __init__(
        self,
        aggregate_table: str,
        marker_table: str,
        client: DynamoDBClient,
        *,
        marker_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._aggregate_table = aggregate_table
        self._marker_table = marker_table
        self._client = client
        self._marker_ttl_seconds = marker_ttl_seconds
        self._clock = clock

    def apply(self, batch: SubBatch) -> None:
        items = self._transaction_items(batch)
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationException":
                raise InvalidChangeError(error.get("Message", "ValidationException")) from exc
            if error.get("Code") != "TransactionCanceledException":
                raise
            self._raise_for_cancellation(batch, exc)

    def _transaction_items(self, batch: SubBatch) -> list[TransactWriteItemTypeDef]:
        expires_at = str(int(self._clock()) + self._marker_ttl_seconds)
        items: list[TransactWriteItemTypeDef] = []
        for chain in batch.chains:
            items.append(
                {
                    "Update": {
                        "TableName": self._marker_table,
                        "Key": {"pk": {"S": chain.trade_id}},
                        "UpdateExpression": "SET AppliedVersion = :last, ExpiresAt = :expires",
                        "ConditionExpression": "attribute_not_exists(pk) OR AppliedVersion < :first",
                        "ExpressionAttributeValues": {
                            ":first": {"N": str(chain.first_version)},
                            ":last": {"N": str(chain.last_version)},
                            ":expires": {"N": expires_at},
                        },
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
        for identifier, delta in sorted(batch.deltas().items()):
            items.append(self._add(identifier, delta))
        items.append(self._add(MESSAGE_COUNT_ID, Decimal(batch.message_count)))
        return items

    def _add(self, identifier: str, delta: Decimal) -> TransactWriteItemTypeDef:
        return {
            "Update": {
                "TableName": self._aggregate_table,
                "Key": {"Identifier": {"S": identifier}},
                "UpdateExpression": "ADD #Value :delta",
                "ExpressionAttributeNames": {"#Value": "Value"},
                "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
            }
        }

    def _raise_for_cancellation(self, batch: SubBatch, exc: ClientError) -> None:
        reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons", [])  # type: ignore[assignment]
        applied = _applied_versions(batch, reasons, exc)
        if applied:
            raise AlreadyAppliedError(applied) from exc
        invalid = [reason for reason in reasons if reason.get("Code") == "ValidationError"]
        if invalid:
            raise InvalidChangeError(invalid[0].get("Message") or "ValidationError") from exc
        if any(reason.get("Code") == "TransactionConflict" for reason in reasons):
            raise TransactionConflictError(str(exc)) from exc
        raise exc

    def read_aggregates(self) -> dict[str, Decimal]:
        return read_aggregates(self._client, self._aggregate_table)


def _applied_versions(batch: SubBatch, reasons: list[dict[str, Any]], exc: ClientError) -> dict[str, int]:
    """The versions already applied, by trade, from the markers whose condition failed (markers come first, in
    chain order); a failed marker condition without the marker's item is not ours to read: re-raise."""
    applied: dict[str, int] = {}
    for chain, reason in zip(batch.chains, reasons, strict=False):
        if reason.get("Code") == "ConditionalCheckFailed":
            version = reason.get("Item", {}).get("AppliedVersion", {}).get("N")
            if version is None:
                raise exc
            applied[chain.trade_id] = int(version)
    return applied


def read_aggregates(client: DynamoDBClient, table: str) -> dict[str, Decimal]:
    """Every aggregate item (the workshop frontend's scan), as Identifier -> Value; message_count included."""
    result: dict[str, Decimal] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            if "Value" in item and "N" in item["Value"]:
                result[item["Identifier"]["S"]] = Decimal(item["Value"]["N"])
    return result
