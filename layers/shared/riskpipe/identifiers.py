"""The AggregateTable's vocabulary, in one home: the levels of a trade's hierarchy, the identifier that counts the
versions applied (``message_count``), and the identifiers and prefixes the table keeps for itself.

The levels are listed in the workshop's aggregation order (RiskType > TradeDesk > Region), the template's default
AggregationOrder; any arrangement of one or more of them, each level at most once, is an order (``orders``).
``models.Hierarchy`` has exactly these fields (checked when it is built). This module imports nothing, so that the
aggregate and reduce handlers validate their order at cold start without building the message models."""

from __future__ import annotations

from itertools import permutations

HIERARCHY_LEVELS: tuple[str, ...] = ("RiskType", "TradeDesk", "Region")
DEFAULT_AGGREGATION_ORDER: tuple[str, ...] = HIERARCHY_LEVELS
MESSAGE_COUNT_ID = "message_count"
# Identifiers the AggregateTable already uses for something else than an aggregate.
RESERVED_IDENTIFIERS = (MESSAGE_COUNT_ID,)
RESERVED_PREFIXES = ("timestamp_",)


def orders(levels: tuple[str, ...] = HIERARCHY_LEVELS) -> list[tuple[str, ...]]:
    """Every aggregation order: each ordered selection of the levels, non-empty, each level at most once."""
    return [order for size in range(1, len(levels) + 1) for order in permutations(levels, size)]
