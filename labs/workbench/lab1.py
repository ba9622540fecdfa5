"""Lab 1: connect the pipeline. The StateLambda must put each message in the StateTable.

The StateTable's items (key ``pk`` = the TradeID), as the rest of the pipeline reads them:
    pk (S), Value (N), Version (N), Hierarchy (S: ``message.Hierarchy.as_json()``), Timestamp (N)
``client`` is a boto3 DynamoDB client; numbers are sent as strings: ``{"N": str(message.Value)}``.
"""

from __future__ import annotations

from typing import Any

from riskpipe.models import RiskMessage, StoredVersion, WriteOutcome


def write_trade(client: Any, table: str, message: RiskMessage) -> StoredVersion:
    # --- LAB 1: your change starts here -------------------------------------------------------------
    raise NotImplementedError("Lab 1: write the message to the StateTable (docs/labs/lab1-connect.md)")
    # --- LAB 1: your change ends here ---------------------------------------------------------------
    return StoredVersion(outcome=WriteOutcome.ACCEPTED, stored_version=message.Version)
