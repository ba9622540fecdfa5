"""Write units and on-demand cost per million messages, each design beside the others and beside the workshop's own.

The price is a documented figure, printed with its date and Region. The workshop's design is priced from its
write units only (``workshop_units``, by its own settings): it is not exactly once (its reduce's idempotency token
lasts 10 minutes and holds only for a retry of the same batch), so it is not a like-for-like design.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICE_PER_MILLION_WRITE_UNITS = 0.625  # USD per million write request units, on-demand, Standard table class
PRICE_SOURCE = (
    "AWS DynamoDB pricing page (on-demand, Standard table class), US East (N. Virginia), "
    "USD 0.625 per million write request units since 1 November 2024"
)
WORKSHOP_AGGREGATES = 19  # the workshop's tree: 12 leaves, 4 RiskType:TradeDesk, 2 RiskType, message_count
WORKSHOP_MAP_ITEM_BYTES = 900  # its map's item: a SHA-256 id and its deltas as a JSON string (under 1 KB)


@dataclass(frozen=True)
class WorkshopSettings:
    """The workshop's own settings (its lab pages and event-driven-cfn.yaml)."""

    state_batch_size: int = 100  # the StateLambda's trigger (lab 1, step 1)
    map_batch_size: int = 10_000  # MapLambdaEventSourceMapping, with a 3 s batching window
    reduce_batch_size: int = 1000  # the ReduceLambda's trigger (lab 1, step 3)


def workshop_units(map_batch: int, changes_per_message: float, map_items_per_reduce: int = 1) -> dict[str, float]:
    """The workshop's write units a message with map batches of ``map_batch`` changes: its StateLambda writes every
    record (1 unit, refused or not), its map puts one item per batch, its reduce adds each aggregate in one
    transaction per invocation (2 units an item) over ``map_items_per_reduce`` map items (1: the most it costs)."""
    map_item = math.ceil(WORKSHOP_MAP_ITEM_BYTES / 1024)
    per_change_batch = changes_per_message / map_batch
    return {
        "StateTable": 1.0,
        "ReduceTable": map_item * per_change_batch,
        "AggregateTable": 2 * WORKSHOP_AGGREGATES * per_change_batch / map_items_per_reduce,
    }


def dollars_per_million(units_per_message: float) -> float:
    """On-demand cost of a million messages' writes."""
    return units_per_message * PRICE_PER_MILLION_WRITE_UNITS
