"""Data access for the map of the aggregate stage: a sub-batch's markers and its partial in ONE TransactWriteItems.

Each trade's marker (in the marker table, kept out of the AggregateTable that the frontend scans) holds what the
aggregates hold of that trade: the version applied, its value and hierarchy, and its ``AcceptedVersions``. The
transaction moves it to the trade's newest change only if it holds what the chain starts from (``AppliedVersion =``
the first change's OldImage version, or ``attribute_not_exists(pk)``), and in the same transaction puts the
sub-batch's partial result (its deltas per prefix and its message count) into the PartialTable under
``attribute_not_exists(pk)``. The effect and its de-duplication record cannot drift apart: both are written, or
neither is. When a marker holds something else, the cancellation returns it (``ALL_OLD``), and the domain decides.
No aggregate item is touched here, so map transactions of different lanes never contend: the reduce
(``reduce_store.py``) applies the partials.

A marker has no TTL: it is the ledger of what the aggregates hold for its trade, one item per trade as in the
StateTable (docs/operations.md). Its item stays far below 1 KB (a trade id and three labels of at most 256 and 3 x
64 characters), so its transactional write costs 2 WCU, as when it held its version alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from riskpipe.aggregation import AppliedState, SubBatch, state_of
from riskpipe.errors import AlreadyAppliedError, InvalidChangeError, TransactionConflictError
from riskpipe.partials import PartialKeys, partial_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef


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


def partial_put(partial_table: str, keys: PartialKeys) -> Effect:
    """The map's effect: ONE partial item per sub-batch, put into ``partial_table`` (keyed by ``keys``: the
    ReduceTable, or with the combining level the PartialTable) under ``attribute_not_exists(pk)`` (its key is never
    used twice: see ``riskpipe.partials``)."""

    def items(batch: SubBatch) -> list[TransactWriteItemTypeDef]:
        item = partial_of(batch).to_item(keys)
        return [{"Put": {"TableName": partial_table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}]

    return items


_MARKER_NAMES = {
    "#Version": "AppliedVersion",
    "#Value": "Value",
    "#Hierarchy": "Hierarchy",
    "#Accepted": "AcceptedVersions",
    "#Expires": "ExpiresAt",
}


def marker_update(table: str, trade_id: str, state: AppliedState) -> dict[str, Any]:
    """The update that makes a trade's marker hold ``state`` (an ``Update`` of a transaction, less its condition):
    the map adds its condition, the reconcile's repair writes it as it is. The one home of the marker's shape."""
    if state.contribution is None:
        raise ValueError(f"the marker of {trade_id} must hold the state it applied")
    values: dict[str, AttributeValueTypeDef] = {
        ":version": {"N": str(state.version)},
        ":value": {"N": str(state.contribution.value)},
        ":hierarchy": {"S": json.dumps(dict(state.contribution.hierarchy), sort_keys=True, separators=(", ", ": "))},
    }
    sets = ["#Version = :version", "#Value = :value", "#Hierarchy = :hierarchy"]
    removes = ["#Expires"]  # markers of a stack deployed before they kept their state had a TTL
    if state.accepted is None:
        removes.append("#Accepted")
    else:
        sets.append("#Accepted = :accepted")
        values[":accepted"] = {"N": str(state.accepted)}
    expression = f"SET {', '.join(sets)} REMOVE {', '.join(removes)}"
    return {
        "TableName": table,
        "Key": {"pk": {"S": trade_id}},
        "UpdateExpression": expression,
        "ExpressionAttributeNames": {k: v for k, v in _MARKER_NAMES.items() if k in expression},
        "ExpressionAttributeValues": values,
    }


def marker_state(item: Mapping[str, Any]) -> AppliedState:
    """What a marker item (as DynamoDB returns it) holds: its version, and its state when it keeps it."""
    plain = {name: TypeDeserializer().deserialize(value) for name, value in item.items()}
    if "AppliedVersion" not in plain:
        raise ValueError(f"marker {plain.get('pk')!r} has no AppliedVersion")
    image = {**plain, "Version": plain["AppliedVersion"]}
    return state_of(image) or AppliedState(int(plain["AppliedVersion"]))


@dataclass(eq=False)
class MarkerStore:
    """A sub-batch's per-trade markers and its effect (``partial_put`` in the map) in ONE transaction."""

    marker_table: str
    client: DynamoDBClient
    _: KW_ONLY
    effect: Effect

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
        expected = batch.expected_markers()
        items: list[TransactWriteItemTypeDef] = []
        for chain in batch.chains:
            update = marker_update(self.marker_table, chain.trade_id, chain.newest.new_state)
            version = expected[chain.trade_id]
            if version is None:
                update["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                update["ConditionExpression"] = "#Version = :expected"
                update["ExpressionAttributeValues"][":expected"] = {"N": str(version)}
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            items.append({"Update": update})  # type: ignore[typeddict-item]
        return items

    @staticmethod
    def _raise_for_cancellation(batch: SubBatch, reasons: list[dict[str, Any]], exc: ClientError) -> None:
        markers: dict[str, AppliedState | None] = {}
        for chain, reason in zip(batch.chains, reasons, strict=False):  # markers come first, in chain order
            if reason.get("Code") == "ConditionalCheckFailed":
                item = reason.get("Item")
                try:
                    markers[chain.trade_id] = None if not item else marker_state(item)
                except ValueError:
                    raise exc from None
        if markers:
            raise AlreadyAppliedError(markers) from exc
        raise_for_other_reasons(reasons, exc)


def read_aggregates(client: DynamoDBClient, table: str) -> dict[str, Decimal]:
    """Every aggregate item (the workshop frontend's scan), as Identifier -> Value; message_count included."""
    result: dict[str, Decimal] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            if "Value" in item and "N" in item["Value"]:
                result[item["Identifier"]["S"]] = Decimal(item["Value"]["N"])
    return result
