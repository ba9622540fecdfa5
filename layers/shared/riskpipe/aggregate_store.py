"""Data access for the map of the aggregate stage: a sub-batch's markers and its partial in ONE TransactWriteItems.

Each trade's marker (in the marker table, kept out of the AggregateTable that the frontend scans) holds
the last version applied. The transaction advances it only if it is older than the sub-batch's first change
of that trade, and in the same transaction puts the sub-batch's partial result (its deltas per prefix and its
message count) into the PartialTable under ``attribute_not_exists(pk)``. The effect and its de-duplication
record cannot drift apart: both are written, or neither is. No aggregate item is touched here, so map
transactions of different lanes never contend: the reduce (``reduce_store.py``) applies the partials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from riskpipe.aggregation import SubBatch
from riskpipe.errors import AlreadyAppliedError, InvalidChangeError, TransactionConflictError
from riskpipe.partials import partial_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def cancellation_reasons(exc: ClientError) -> list[dict[str, Any]] | None:
    """The per-item reasons of a cancelled transaction (in the order of its items), None for any other error but
    one: a transaction refused as invalid as a whole (ValidationException) raises ``InvalidChangeError``."""
    error = exc.response.get("Error", {})
    if error.get("Code") == "ValidationException":
        raise InvalidChangeError(error.get("Message", "ValidationException")) from exc
    if error.get("Code") != "TransactionCanceledException":
        return None
    return exc.response.get("CancellationReasons", [])  # type: ignore[return-value]


def raise_for_other_reasons(reasons: list[dict[str, Any]], exc: ClientError) -> None:
    """What is left of a cancellation once the caller has looked at its own conditions: an item refused as invalid
    (``InvalidChangeError``), a conflict (``TransactionConflictError``, retry), or the error as it is."""
    invalid = [reason for reason in reasons if reason.get("Code") == "ValidationError"]
    if invalid:
        raise InvalidChangeError(invalid[0].get("Message") or "ValidationError") from exc
    if any(reason.get("Code") == "TransactionConflict" for reason in reasons):
        raise TransactionConflictError(str(exc)) from exc
    raise exc


def add_item(table: str, identifier: str, delta: Decimal) -> TransactWriteItemTypeDef:
    """``ADD`` a delta to one aggregate item (the workshop's layout: ``Identifier``, ``Value``)."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"Identifier": {"S": identifier}},
            "UpdateExpression": "ADD #Value :delta",
            "ExpressionAttributeNames": {"#Value": "Value"},
            "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
        }
    }


Effect = Callable[[SubBatch], "list[TransactWriteItemTypeDef]"]


def partial_put(partial_table: str) -> Effect:
    """The map's effect: ONE partial item per sub-batch, put under ``attribute_not_exists(pk)`` (its key is never
    used twice: see ``riskpipe.partials``)."""

    def items(batch: SubBatch) -> list[TransactWriteItemTypeDef]:
        item = partial_of(batch).to_item()
        return [{"Put": {"TableName": partial_table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}]

    return items


@dataclass(eq=False)
class MarkerStore:
    """A sub-batch's per-trade markers and its effect (``partial_put`` in the map) in ONE transaction."""

    marker_table: str
    client: DynamoDBClient
    _: KW_ONLY
    effect: Effect
    marker_ttl_seconds: int
    clock: Callable[[], float] = time.time

    def apply(self, batch: SubBatch) -> None:
        items = [*self._marker_items(batch), *self.effect(batch)]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            reasons = cancellation_reasons(exc)
            if reasons is None:
                raise
            self._raise_for_cancellation(batch, reasons, exc)

    def _marker_items(self, batch: SubBatch) -> list[TransactWriteItemTypeDef]:
        expires_at = str(int(self.clock()) + self.marker_ttl_seconds)
        return [
            {
                "Update": {
                    "TableName": self.marker_table,
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
            for chain in batch.chains
        ]

    @staticmethod
    def _raise_for_cancellation(batch: SubBatch, reasons: list[dict[str, Any]], exc: ClientError) -> None:
        applied: dict[str, int] = {}
        for chain, reason in zip(batch.chains, reasons, strict=False):  # markers come first, in chain order
            if reason.get("Code") == "ConditionalCheckFailed":
                version = reason.get("Item", {}).get("AppliedVersion", {}).get("N")
                if version is None:
                    raise exc
                applied[chain.trade_id] = int(version)
        if applied:
            raise AlreadyAppliedError(applied) from exc
        raise_for_other_reasons(reasons, exc)


def read_aggregates(client: DynamoDBClient, table: str) -> dict[str, Decimal]:
    """Every aggregate item (the workshop frontend's scan), as Identifier -> Value; message_count included."""
    result: dict[str, Decimal] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            if "Value" in item and "N" in item["Value"]:
                result[item["Identifier"]["S"]] = Decimal(item["Value"]["N"])
    return result
