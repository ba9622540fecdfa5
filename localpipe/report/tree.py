"""Render the AggregateTable as a tree in the aggregation order, with totals."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from rich.tree import Tree


def aggregate_tree(
    aggregates: Mapping[str, Decimal], *, title: str = "Aggregates", message_count: Decimal | None = None
) -> Tree:
    root = Tree(_label(title, message_count))
    nodes: dict[str, Tree] = {}
    for identifier in sorted(aggregates, key=lambda i: (i.count(":"), i)):  # parents first
        parent_id, _, name = identifier.rpartition(":")
        parent = nodes.get(parent_id, root) if parent_id else root
        nodes[identifier] = parent.add(f"{name or identifier}  [cyan]{aggregates[identifier]:,.2f}[/cyan]")
    root.add(f"[bold]total[/bold]  [cyan]{_total(aggregates):,.2f}[/cyan]")
    return root


def _label(title: str, message_count: Decimal | None) -> str:
    label = f"[bold]{title}[/bold]"
    return label if message_count is None else f"{label}  (message_count {message_count})"


def _total(aggregates: Mapping[str, Decimal]) -> Decimal:
    """The sum of the top level (the identifiers of one level)."""
    return sum((v for k, v in aggregates.items() if ":" not in k), Decimal(0))
