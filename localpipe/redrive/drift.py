"""Reconcile the aggregates with the StateTable, their source of truth (``make reconcile``), and repair them.

The StateTable holds the newest version of every trade, and (``AcceptedVersions``) how many versions of it were
accepted. From it, every aggregate is recomputed (``riskpipe.aggregation.expected_aggregates``: the sum of the
newest values under each prefix) and so is ``message_count`` (the versions accepted: the sum of
``AcceptedVersions``; an item written before that attribute existed counts 1). The drift is what the
AggregateTable holds, plus the partials waiting (written by the map, not applied by the reduce yet: in the
ReduceTable, and with the combining level in the PartialTable, combined or not), minus that, per Identifier
(``compare_aggregates``).

``repair`` deletes the pending partials, rewrites each aggregate that differs with its recomputed value, and moves
each trade's marker up to what the StateTable holds (its version, value, hierarchy and ``AcceptedVersions``: what
the aggregates now hold of it), so that a change of that version or older still in the stream (a retry, a
redelivery) is recognised as applied by the map when the pipeline resumes, a newer one applies on top of it, and
a deleted partial still in its table's stream is skipped by the reduce or the combining lanes (its delete's condition
fails).
Run it while the event source mappings are paused (docs/operations.md): a change applied between the scan and the
rewrite would be lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from localpipe.stack.readback import StackTables, read_aggregates, read_pending, scan_state
from riskpipe.aggregate_store import marker_state, marker_update
from riskpipe.aggregation import AppliedState, Contribution, compare_aggregates, expected_aggregates
from riskpipe.identifiers import MESSAGE_COUNT_ID, RESERVED_PREFIXES
from riskpipe.models import RiskMessage
from riskpipe.partials import Partial, plan_reduce


@dataclass(frozen=True)
class Reconciliation:
    expected: dict[str, Decimal]  # recomputed from the StateTable, message_count included
    actual: dict[str, Decimal]  # what the AggregateTable holds
    drift: dict[str, tuple[Decimal, Decimal]]  # identifier -> (expected, actual + pending), only where they differ
    trades: dict[str, RiskMessage]
    pending: dict[str, tuple[str, ...]] | None = None  # the partials not applied yet, by the table they wait in
    accepted: dict[str, int | None] | None = None  # each trade's AcceptedVersions (None: its item has none)

    @property
    def exact(self) -> bool:
        return not self.drift


def reconcile(client: Any, tables: StackTables) -> Reconciliation:
    trades, accepted = scan_state(client, tables.state_table)
    accepted_versions = sum(1 if count is None else count for count in accepted.values())
    expected = {**expected_aggregates(trades.values(), tables.order), MESSAGE_COUNT_ID: Decimal(accepted_versions)}
    # The workshop's own items (generator timings) are not aggregates.
    actual = {
        k: v for k, v in read_aggregates(client, tables.aggregate_table).items() if not k.startswith(RESERVED_PREFIXES)
    }
    pending = read_pending(client, tables)
    drift = compare_aggregates(expected, once_reduced(actual, [p for partials in pending.values() for p in partials]))
    waiting = {table: tuple(p.partial_id for p in partials) for table, partials in pending.items()}
    return Reconciliation(expected, actual, drift, trades, waiting, accepted)


def once_reduced(actual: dict[str, Decimal], partials: list[Partial]) -> dict[str, Decimal]:
    """The aggregates once the partials waiting are applied."""
    totals = dict(actual)
    for transaction in plan_reduce(partials):
        for identifier, delta in transaction.deltas.items():
            totals[identifier] = totals.get(identifier, Decimal(0)) + delta
    return totals


def read_markers(client: Any, table: str) -> dict[str, AppliedState]:
    """Every trade's marker: what the aggregates hold of it (its version, and its state when it keeps it)."""
    return {
        item["pk"]["S"]: marker_state(item)
        for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
        if "AppliedVersion" in item
    }


def _delete_pending(client: Any, tables: StackTables, pending: dict[str, tuple[str, ...]]) -> int:
    """Every partial waiting deleted, from the table it waits in; how many."""
    keys = tables.partial_tables()
    for table, partial_ids in pending.items():
        for partial_id in partial_ids:
            client.delete_item(TableName=table, Key=keys[table].key(partial_id))
    return sum(len(ids) for ids in pending.values())


@dataclass(frozen=True)
class Repair:
    aggregates_rewritten: int
    markers_moved: int
    partials_deleted: int = 0


def repair(client: Any, tables: StackTables, found: Reconciliation) -> Repair:
    """Delete the pending partials, rewrite the aggregates that differ, and the markers that do not hold what the
    StateTable holds (pipeline paused)."""
    deleted = _delete_pending(client, tables, found.pending or {})
    for identifier, (expected, _) in sorted(compare_aggregates(found.expected, found.actual).items()):
        client.update_item(
            TableName=tables.aggregate_table,
            Key={"Identifier": {"S": identifier}},
            UpdateExpression="SET #Value = :value",
            ExpressionAttributeNames={"#Value": "Value"},
            ExpressionAttributeValues={":value": {"N": str(expected)}},
        )
    markers = read_markers(client, tables.marker_table)
    accepted = found.accepted or {}
    truth = {
        trade: AppliedState(
            message.Version, Contribution(message.Value, message.Hierarchy.model_dump()), accepted.get(trade)
        )
        for trade, message in found.trades.items()
    }
    behind = {trade: state for trade, state in truth.items() if markers.get(trade) != state}
    for trade, state in sorted(behind.items()):
        client.update_item(**marker_update(tables.marker_table, trade, state))
    rewritten = len(compare_aggregates(found.expected, found.actual))
    return Repair(aggregates_rewritten=rewritten, markers_moved=len(behind), partials_deleted=deleted)
