"""Item sizes the model charges by: the partial item as the map and the combining lanes write it."""

from __future__ import annotations

from benchmarks.units import item_size
from riskpipe.partials import Partial, PartialKeys


def partial_item_size(partial: Partial, keys: PartialKeys) -> int:
    """The size by DynamoDB's rules of the partial's item in a table keyed by ``keys`` (``Partial.to_item``, its one
    home)."""
    return item_size(partial.to_item(keys))
