"""Lab 3: exactly-once aggregation under retries and crashes, in the Map/Reduce shape.

The map (``map_transaction``) gets ``batch``: per trade, the changes to apply (``batch.chains``: ``chain.trade_id``,
``chain.first_version``, ``chain.last_version``); ``partial_of(batch)`` is its partial result (``partial_id``,
``deltas``: Identifier -> Decimal, ``message_count``; ``.to_item(ONE_PARTITION)``: its item in the ReduceTable, every
partial under one partition key, its id as sort key; ``ONE_PARTITION.key(partial_id)``: its key). The reduce
(``reduce_transaction``) gets ``transaction``: the summed deltas of some partials (``transaction.deltas``,
``message_count`` included) and their ids (``transaction.partial_ids``).

This starts as the naive version: the map puts its partial with no marker, the reduce ADDs, then deletes the
partials with no condition. A map batch delivered again (a re-cut retry, a crash after the write) writes its
partial again, and a partial delivered again to the reduce is added again: the totals drift.

To make it exactly once:

* map: in ONE ``transact_write_items``, each trade's marker in the marker table (``AppliedVersion``, advanced only
  if older than ``chain.first_version``) and the partial put under ``attribute_not_exists(pk)``; when a marker's
  condition cancels it, raise ``AlreadyAppliedError({trade_id: applied_version, ...})``;
* reduce: in ONE ``transact_write_items``, the ADDs and a delete of each partial under ``attribute_exists(pk)``;
  when a delete's condition cancels it (that partial was applied before), raise ``PartialsGoneError({partial_id,
  ...})``. In both cases the caller drops those and retries the rest.
"""

from __future__ import annotations

from typing import Any

from riskpipe.aggregation import SubBatch
from riskpipe.errors import AlreadyAppliedError, PartialsGoneError  # noqa: F401  (yours to raise)
from riskpipe.partials import ONE_PARTITION, ReduceTransaction, partial_of


def map_transaction(client: Any, partial_table: str, marker_table: str, batch: SubBatch) -> None:
    # --- LAB 3 (map): your change starts here -------------------------------------------------------
    client.put_item(TableName=partial_table, Item=partial_of(batch).to_item(ONE_PARTITION))
    # --- LAB 3 (map): your change ends here ---------------------------------------------------------


def reduce_transaction(client: Any, aggregate_table: str, partial_table: str, transaction: ReduceTransaction) -> None:
    # --- LAB 3 (reduce): your change starts here ----------------------------------------------------
    for identifier, delta in transaction.deltas.items():
        client.update_item(
            TableName=aggregate_table,
            Key={"Identifier": {"S": identifier}},
            UpdateExpression="ADD #Value :delta",
            ExpressionAttributeNames={"#Value": "Value"},
            ExpressionAttributeValues={":delta": {"N": str(delta)}},
        )
    for partial_id in transaction.partial_ids:
        client.delete_item(TableName=partial_table, Key=ONE_PARTITION.key(partial_id))
    # --- LAB 3 (reduce): your change ends here ------------------------------------------------------
