"""Data access for the StateTable: one conditional, versioned write per trade, never a read.

``ConditionalCheckFailedException`` is not an error here: it is the table telling us the record is a
duplicate (that version is stored) or stale (a newer one is), and with
``ReturnValuesOnConditionCheckFailure=ALL_OLD`` it tells us which without a second call.

Each accepted write also adds 1 to the item's ``AcceptedVersions``: the StateTable then knows how many versions
it accepted, which is what the aggregates' ``message_count`` counts, so a reconcile can recompute it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from riskpipe.models import RiskMessage, StoredVersion, WriteOutcome
from riskpipe.throttling import ThrottledError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

UPDATE_EXPRESSION = (
    "SET #Value = :value, #Version = :new_version, #Hierarchy = :hierarchy, #Timestamp = :timestamp"
    " ADD #AcceptedVersions :one"
)
CONDITION_EXPRESSION = "attribute_not_exists(pk) OR #Version < :new_version"
EXPRESSION_NAMES = {
    "#Value": "Value",
    "#Version": "Version",
    "#Hierarchy": "Hierarchy",
    "#Timestamp": "Timestamp",
    "#AcceptedVersions": "AcceptedVersions",
}


def expression_values(message: RiskMessage) -> dict[str, AttributeValueTypeDef]:
    return {
        ":value": {"N": str(message.Value)},
        ":new_version": {"N": str(message.Version)},
        ":hierarchy": {"S": message.Hierarchy.as_json()},
        ":timestamp": {"N": str(message.Timestamp)},
        ":one": {"N": "1"},
    }


# DynamoDB's answers when a partition or the table is over its throughput: nothing was written.
THROTTLING_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


class StateCorruptedError(RuntimeError):
    """The stored item has no readable Version: the condition cannot be decided. Retried, then sent on."""


class VersionedStateStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table_name = table_name
        self._client = client

    def put_if_newer(self, message: RiskMessage) -> StoredVersion:
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key={"pk": {"S": message.TradeID}},
                UpdateExpression=UPDATE_EXPRESSION,
                ConditionExpression=CONDITION_EXPRESSION,
                ExpressionAttributeNames=EXPRESSION_NAMES,
                ExpressionAttributeValues=expression_values(message),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in THROTTLING_CODES:
                raise ThrottledError(f"{code} writing {message.TradeID!r} (after the SDK's attempts)") from exc
            if code != "ConditionalCheckFailedException":
                raise
            return self._rejected(message, exc)
        return StoredVersion(outcome=WriteOutcome.ACCEPTED, stored_version=message.Version)

    def _rejected(self, message: RiskMessage, exc: ClientError) -> StoredVersion:
        stored = exc.response.get("Item", {}).get("Version", {}).get("N")  # type: ignore[attr-defined]
        if stored is None:
            raise StateCorruptedError(f"item {message.TradeID!r} has no Version; the conditional write was refused")
        stored_version = int(stored)
        outcome = WriteOutcome.DUPLICATE if stored_version == message.Version else WriteOutcome.STALE
        return StoredVersion(outcome=outcome, stored_version=stored_version)
