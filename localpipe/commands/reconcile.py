"""``python -m localpipe reconcile``: the aggregates recomputed from the StateTable, the drift printed (and
repaired, with ``--repair``)."""

from __future__ import annotations

import argparse
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table

from localpipe.faults.plan import FaultPlan
from localpipe.faults.rates import FaultRates
from localpipe.ministack import state as ministack
from localpipe.pipeline.options import PipelineOptions
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.redrive.drift import Reconciliation, reconcile
from localpipe.redrive.drift import repair as repair_aggregates
from localpipe.stack.deployed import describe_stack
from localpipe.stack.lambda_context import AGGREGATE_FUNCTION
from localpipe.stack.local import local_stack
from localpipe.stack.readback import StackTables

console = Console(stderr=False)


def reconcile_command(args: argparse.Namespace) -> int:
    """Recompute the aggregates from the StateTable, print the drift, exit 1 when there is any (after the repair,
    with --repair). Against a deployed stack (--stack), or a local pipeline run that gives aggregate records up."""
    if args.stack:
        return _reconcile_stack(args.stack, boto3.client("cloudformation"), boto3.client("dynamodb"), args.repair)
    local = ministack.load()
    if local is not None and not args.local_pipeline:
        console.print(f"reconciling stack {local.stack_name} on {local.endpoint} (make up)")
        return _reconcile_stack(local.stack_name, local.client("cloudformation"), local.client("dynamodb"), args.repair)
    # Locally: the aggregate stage gives records up at their first error, so the totals drift.
    plan = FaultPlan(FaultRates(function_errors=args.function_errors), seed=args.seed)
    sends = plan.traffic(args.messages, args.trades)
    with local_stack() as deployed:
        overrides = {AGGREGATE_FUNCTION: {"MaximumRetryAttempts": 0}}
        pipeline = LocalPipeline(deployed, PipelineOptions(faults=plan, mapping_overrides=overrides))
        report = pipeline.run(sends)
        console.print(
            f"local pipeline: {report.sent:,} messages, function errors {args.function_errors:.0%}, aggregate "
            f"MaximumRetryAttempts 0: {report.aggregate_exhausted:,} aggregate records given up"
        )
        return _reconcile(deployed.client("dynamodb"), pipeline.stack_tables(), repair=args.repair)


def _reconcile_stack(name: str, cloudformation: Any, dynamodb: Any, repair: bool) -> int:
    outputs, parameters = describe_stack(name, cloudformation)
    return _reconcile(dynamodb, StackTables.from_outputs(outputs, parameters), repair=repair)


def _reconcile(client: Any, tables: StackTables, *, repair: bool) -> int:
    found = reconcile(client, tables)
    _print_drift(found)
    if repair and not found.exact:
        done = repair_aggregates(client, tables, found)
        console.print(
            f"repaired: {done.partials_deleted} pending partials deleted, {done.aggregates_rewritten} aggregates "
            f"rewritten, {done.markers_moved} markers moved up"
        )
        found = reconcile(client, tables)
        _print_drift(found)
    return 0 if found.exact else 1


def _print_drift(found: Reconciliation) -> None:
    waiting = sum(len(ids) for ids in (found.pending or {}).values())
    trades = f"{len(found.trades):,} trades in the StateTable, {waiting:,} partials waiting"
    if found.exact:
        console.print(f"[green]no drift[/green]: {len(found.expected):,} identifiers as the StateTable says ({trades})")
        return
    identifiers = len(set(found.expected) | set(found.actual))
    table = Table(title=f"drift: {len(found.drift)} of {identifiers} identifiers ({trades})")
    for column in ("Identifier", "StateTable says", "AggregateTable holds", "drift"):
        table.add_column(column, justify="left" if column == "Identifier" else "right")
    for identifier, (expected, actual) in found.drift.items():
        table.add_row(identifier, str(expected), str(actual), str(actual - expected))
    console.print(table)
