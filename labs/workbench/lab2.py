"""Lab 2: duplicates and out-of-order versions. Keep only the newest version of each trade.

This starts as lab 1's answer: an unconditional ``put_item``. Messages arrive twice and out of order, so an
older version can overwrite a newer one. Return what happened: ACCEPTED (stored now), DUPLICATE (this very
version is already stored) or STALE (a newer one is), with the version the table holds afterwards.
"""

from __future__ import annotations

from typing import Any

from riskpipe.models import RiskMessage, StoredVersion, WriteOutcome


def put_if_newer(client: Any, table: str, message: RiskMessage) -> StoredVersion:
    # --- LAB 2: your change starts here -------------------------------------------------------------
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": message.TradeID},
            "Value": {"N": str(message.Value)},
            "Version": {"N": str(message.Version)},
            "Hierarchy": {"S": message.Hierarchy.as_json()},
            "Timestamp": {"N": str(message.Timestamp)},
        },
    )
    return StoredVersion(outcome=WriteOutcome.ACCEPTED, stored_version=message.Version)
    # --- LAB 2: your change ends here ---------------------------------------------------------------
