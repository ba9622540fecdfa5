"""Render the AggregateTable as a tree in the aggregation order, with totals."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from rich.tree import Tree


def aggregate_tree(
    aggregates: Mapping[str, Decimal], *, title: str = "Aggregates", message_count: Decimal | None = None
) -> Tree:
    label = f"[bold]{title}[/bold]"
    if message_count is not None:
        label += f"  (message_count {message_count})"
    root = Tree(label)
    nodes: dict[str, Tree] = {}
    for identifier in sorted(aggregates, key=lambda i: (i.count(":"), i)):
        parent_id, _, name = identifier.rpartition(":")
        parent = nodes.get(parent_id, root) if parent_id else root
        nodes[identifier] = parent.add(f"{name or identifier}  [cyan]{aggregates[identifier]:,.2f}[/cyan]")
    total = sum((v for k, v in aggregates.items() if ":" not in k), Decimal(0))
    root.add(f"[bold]total[/bold]  [cyan]{total:,.2f}[/cyan]")
    return root
