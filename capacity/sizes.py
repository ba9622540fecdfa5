"""Item sizes the model charges by: the partial item as the map and the combining lanes write it."""

from __future__ import annotations

from typing import Any

from benchmarks.capacity import item_size
from riskpipe.partials import Partial


def partial_item(partial: Partial) -> dict[str, Any]:
    """The partial-table item (``riskpipe.aggregate_store.partial_put``'s shape), with the combined mark."""
    item: dict[str, Any] = {
        "pk": {"S": partial.partial_id},
        "Deltas": {"M": {k: {"N": str(v)} for k, v in sorted(partial.deltas.items())}},
        "MessageCount": {"N": str(partial.message_count)},
    }
    if partial.timestamps is not None:
        stamps = partial.timestamps
        item["TimestampMin"] = {"N": str(stamps.earliest)}
        item["TimestampMax"] = {"N": str(stamps.latest)}
        item["TimestampSum"] = {"N": str(stamps.total)}
        item["TimestampCount"] = {"N": str(stamps.count)}
    if getattr(partial, "combined", False):
        item["Combined"] = {"BOOL": True}
    return item


def partial_item_size(partial: Partial) -> int:
    return item_size(partial_item(partial))
