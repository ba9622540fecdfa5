"""Lab 3: exactly-once aggregation under retries and crashes.

``batch`` holds, per trade, the changes to apply (``batch.chains``: ``chain.trade_id``, ``chain.first_version``,
``chain.last_version``), their pre-aggregated deltas (``batch.deltas()``: Identifier -> Decimal) and
``batch.message_count``. This starts as the naive version: an ``ADD`` per aggregate, so a batch delivered
again (a lost checkpoint, a crash after the write) counts twice.

To make it exactly once, write the deltas together with a per-trade marker in the marker table, in ONE
``transact_write_items``; when the transaction is cancelled because a marker shows a change already applied,
raise ``AlreadyAppliedError({trade_id: applied_version, ...})`` and the caller drops those and retries the rest.
"""

from __future__ import annotations

from typing import Any

from riskpipe.aggregate_store import AlreadyAppliedError  # noqa: F401  (yours to raise)
from riskpipe.aggregation import MESSAGE_COUNT_ID, SubBatch


def apply(client: Any, aggregate_table: str, marker_table: str, batch: SubBatch) -> None:
    # --- LAB 3: your change starts here -------------------------------------------------------------
    for identifier, delta in {**batch.deltas(), MESSAGE_COUNT_ID: batch.message_count}.items():
        client.update_item(
            TableName=aggregate_table,
            Key={"Identifier": {"S": identifier}},
            UpdateExpression="ADD #Value :delta",
            ExpressionAttributeNames={"#Value": "Value"},
            ExpressionAttributeValues={":delta": {"N": str(delta)}},
        )
    # --- LAB 3: your change ends here ---------------------------------------------------------------
