"""Count DynamoDB calls and capacity from the SDK's own events, and size items by DynamoDB's rules.

moto reports 0.5 capacity units for a 1 KB write and nothing for a refused conditional write, where DynamoDB
charges 1 write unit per started KB for both. So capacity is computed here from the items themselves:

* an item's size is the sum, over its attributes, of the name's UTF-8 length and the value's size: a string
  its UTF-8 length, a number 1 byte per two significant digits plus 1, binary its length, a boolean or null
  1 byte, a list or map 3 bytes plus its elements (and 1 byte per element);
* a write (PutItem, UpdateItem, each item of BatchWriteItem) costs 1 WCU per started KB of the larger of the
  item before and after; a refused conditional write is charged the same as if it had succeeded;
* a TransactWriteItems item costs twice that; a strongly consistent read 1 RCU per started 4 KB, an eventually
  consistent one half of that.

The item written is taken to be the request's key plus the values it sets (the StateTable's write sets every
attribute; an aggregate's ADD touches a key and one number). A refused write with ALL_OLD is charged the size
of the item DynamoDB returned.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def _number_size(content: str) -> int:
    digits = Decimal(content).normalize().as_tuple().digits
    return math.ceil(len(digits) / 2) + 1


_SCALAR_SIZE: dict[str, Callable[[Any], int]] = {
    "S": lambda content: len(content.encode()),
    "N": _number_size,
    "B": len,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
}


def value_size(value: dict[str, Any]) -> int:
    [(kind, content)] = value.items()
    if kind in _SCALAR_SIZE:
        return _SCALAR_SIZE[kind](content)
    if kind in ("SS", "NS", "BS"):
        return sum(_SCALAR_SIZE[kind[0]](element) for element in content)
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in content)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(element) + 1 for name, element in content.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def _written_item(params: dict[str, Any]) -> dict[str, Any]:
    """The key plus the values an UpdateItem sets, named by their placeholders' attribute names."""
    item = dict(params.get("Key", {}))
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    expression = params.get("UpdateExpression", "")
    for clause in expression.replace("SET ", "").replace("ADD ", "").split(","):
        parts = clause.replace("=", " ").split()
        if len(parts) >= 2 and parts[-1] in values:
            name = names.get(parts[0], parts[0])
            item[name] = values[parts[-1]]
    return item


# What one call costs, per operation: (write units, read units, items read, refused writes).
Cost = tuple[int, float, int, int]


def _single_write_cost(params: dict[str, Any], parsed: dict[str, Any], error: str | None) -> Cost:
    """PutItem, UpdateItem, DeleteItem: the larger of the item before and after; a refused write costs the same."""
    written = params.get("Item") or _written_item(params)
    old = parsed.get("Item") or parsed.get("Attributes") or {}
    size = max(item_size(written), item_size(old))
    return write_units(size), 0.0, 0, int(error == "ConditionalCheckFailedException")


def _transaction_cost(params: dict[str, Any], parsed: dict[str, Any], error: str | None) -> Cost:
    units = 0
    for entry in params.get("TransactItems", []):
        [(_, operation)] = entry.items()
        units += 2 * write_units(item_size(operation.get("Item") or _written_item(operation)))
    return units, 0.0, 0, int(error == "TransactionCanceledException")


def _get_cost(params: dict[str, Any], parsed: dict[str, Any], error: str | None) -> Cost:
    item = parsed.get("Item")
    size = item_size(item) if item else 0
    return 0, read_units(size, consistent=bool(params.get("ConsistentRead"))), int(item is not None), 0


def _batch_get_cost(params: dict[str, Any], parsed: dict[str, Any], error: str | None) -> Cost:
    reads, count = 0.0, 0
    for table, items in parsed.get("Responses", {}).items():
        consistent = bool(params.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
        for item in items:
            reads += read_units(item_size(item), consistent=consistent)
            count += 1
    return 0, reads, count, 0


_COSTS: dict[str, Callable[[dict[str, Any], dict[str, Any], str | None], Cost]] = {
    "PutItem": _single_write_cost,
    "UpdateItem": _single_write_cost,
    "DeleteItem": _single_write_cost,
    "TransactWriteItems": _transaction_cost,
    "GetItem": _get_cost,
    "BatchGetItem": _batch_get_cost,
}


class CapacityMeter:
    """Registered on a boto3 session: counts every DynamoDB call, item read and unit of capacity."""

    def __init__(self, session: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.write_units = 0
        self.read_units = 0.0
        self.items_read = 0
        self.refused_writes = 0
        self._pending = threading.local()
        self._lock = threading.Lock()
        # before-parameter-build carries the API parameters (before-call has the serialized request)
        session.events.register("before-parameter-build.dynamodb", self._before)
        session.events.register("after-call.dynamodb", self._after)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.write_units = 0
            self.read_units = 0.0
            self.items_read = 0
            self.refused_writes = 0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._pending.params = params

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        params = getattr(self._pending, "params", {})
        name = model.name
        error = parsed.get("Error", {}).get("Code")
        cost = _COSTS.get(name)
        units, reads, items, refused = cost(params, parsed, error) if cost else (0, 0.0, 0, 0)
        with self._lock:
            self.calls[name] += 1
            self.write_units += units
            self.read_units += reads
            self.items_read += items
            self.refused_writes += refused


class CallTimer:
    """Registered on boto3 sessions: the wall time spent inside AWS calls (from the request being built to the
    response parsed), per operation."""

    def __init__(self, *sessions: Any) -> None:
        self.seconds: dict[str, float] = {}
        self._started = threading.local()
        self._lock = threading.Lock()
        for session in sessions:
            self.register(session)

    def register(self, session: Any) -> None:
        session.events.register("before-parameter-build", self._before)
        session.events.register("after-call", self._after)

    def _before(self, **_: Any) -> None:
        self._started.at = time.perf_counter()

    def _after(self, model: Any, **_: Any) -> None:
        elapsed = time.perf_counter() - getattr(self._started, "at", time.perf_counter())
        with self._lock:
            self.seconds[model.name] = self.seconds.get(model.name, 0.0) + elapsed

    @property
    def total(self) -> float:
        return sum(self.seconds.values())
