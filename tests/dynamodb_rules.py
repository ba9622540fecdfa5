"""DynamoDB's documented item-size and write-unit rules, written from the documentation's own words (and checked on
its own worked examples, ``tests/unit/test_dynamodb_rules.py``), and a meter that applies them to the items a
run really writes, read back from the table before and after each write.

It is the independent source the capacity model's write units are checked against: none of it comes from the
model (``capacity/``) or from the benchmarks' counting (``benchmarks/``), and none of it trusts moto's
``ConsumedCapacity`` (a constant there, not a measure).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

SIZES = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html"
WRITES = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html"
CONDITIONS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html"
TRANSACTIONS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html"
PRICING = "https://aws.amazon.com/dynamodb/pricing/provisioned/"
KB = 1024


@dataclass(frozen=True)
class Rule:
    name: str
    says: str  # the documentation's words, shortened
    source: str


RULES = (
    Rule("string", "(UTF-8 bytes of attribute name) + (UTF-8 bytes of the value)", SIZES),
    Rule(
        "number",
        "up to 38 significant digits, leading and trailing zeroes trimmed: (name) + (1 byte per two significant "
        "digits) + (1 byte)",
        SIZES,
    ),
    Rule("binary", "(name) + (number of raw bytes)", SIZES),
    Rule("null or Boolean", "(name) + (1 byte)", SIZES),
    Rule("list or map", "(name) + sum (size of nested elements) + (3 bytes); each element 1 byte more", SIZES),
    Rule("item", "the sum of the lengths of its attribute names and values", SIZES),
    Rule("put", "PutItem: the larger of the item before and after", WRITES),
    Rule("update", "UpdateItem: the larger of the item as it appears before and after the update", WRITES),
    Rule("delete", "DeleteItem: the size of the deleted item", WRITES),
    Rule("rounding", "PutItem, UpdateItem, DeleteItem: the item size rounded up to the next 1 KB", WRITES),
    Rule("condition failed", "the size of the existing item (or a minimum of 1)", CONDITIONS),
    Rule("transaction", "two write units per 1 KB item written in a TransactWriteItems", TRANSACTIONS),
)


def value_bytes(value: Mapping[str, Any]) -> int:
    """A typed value's size without its name (the ``rules`` above), for S, N, B, BOOL, NULL, L and M."""
    [(kind, content)] = value.items()
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "N":
        digits = content.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0")
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(value_bytes(element) + 1 for element in content)
    if kind == "M":
        return 3 + sum(len(name.encode("utf-8")) + value_bytes(element) + 1 for name, element in content.items())
    raise ValueError(f"no documented size rule used here for {kind}")


def item_bytes(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    return sum(len(name.encode("utf-8")) + value_bytes(value) for name, value in (item or {}).items())


def write_units(
    *,
    before: int = 0,
    after: int = 0,
    delete: bool = False,
    condition_failed: bool = False,
    transactional: bool = False,
) -> int:
    """Write units of one write of an item ``before`` bytes before and ``after`` bytes after (sizes in bytes)."""
    size = before if condition_failed or delete else max(before, after)
    units = max(1, math.ceil(size / KB))
    return 2 * units if transactional else units


# The documentation's own worked examples: (what it says, the units by the rules above, the units it gives).
EXAMPLES: tuple[tuple[str, Callable[[], int], int], ...] = (
    ("a standard write request of a 1 KB item would require one WCU (pricing)", lambda: write_units(after=KB), 1),
    (
        "a standard write request of a 3 KB item would require three WCUs (pricing)",
        lambda: write_units(after=3 * KB),
        3,
    ),
    (
        "a transactional write request of a 3 KB item would require six WCUs (pricing)",
        lambda: write_units(after=3 * KB, transactional=True),
        6,
    ),
    ("if you put or delete an item of 1.6 KB, DynamoDB rounds it up to 2 KB", lambda: write_units(after=1638), 2),
    ("... or delete an item of 1.6 KB", lambda: write_units(before=1638, delete=True), 2),
    (
        "an existing item of 300 KB, a new one of 310 KB: 300 if the condition fails",
        lambda: write_units(before=300 * KB, after=310 * KB, condition_failed=True),
        300,
    ),
    (
        "... and 310 if the condition succeeds",
        lambda: write_units(before=300 * KB, after=310 * KB),
        310,
    ),
    ("a new item: 1 if the condition fails", lambda: write_units(after=310 * KB, condition_failed=True), 1),
    ("a new item: 310 if the condition succeeds", lambda: write_units(after=310 * KB), 310),
    ("the size of an empty List or Map is (name) + (3 bytes)", lambda: item_bytes({"ab": {"M": {}}}), 5),
)


class DocumentedMeter:
    """Registered on a boto3 session: every write the code makes, priced by ``RULES`` from the items themselves,
    read back (by key, with a client of its own) before and after the write; write units by table."""

    WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")

    def __init__(self, session: boto3.Session, names: Mapping[str, str]) -> None:
        self.units: Counter[str] = Counter()  # logical table name -> write units
        self._logical = {physical: logical for logical, physical in names.items()}
        self._reader = boto3.Session(region_name=session.region_name).client("dynamodb")
        self._keys: dict[str, list[str]] = {}
        self._pending = threading.local()
        self._lock = threading.Lock()
        for op in self.WRITES:
            session.events.register(f"before-parameter-build.dynamodb.{op}", self._before)
            session.events.register(f"after-call.dynamodb.{op}", self._after)

    def reset(self) -> None:
        self.units.clear()

    def _key(self, table: str, item: Mapping[str, Any]) -> dict[str, Any]:
        if table not in self._keys:
            schema = self._reader.describe_table(TableName=table)["Table"]["KeySchema"]
            self._keys[table] = [k["AttributeName"] for k in schema]
        return {name: item[name] for name in self._keys[table]}

    def _read(self, table: str, key: Mapping[str, Any]) -> int:
        return item_bytes(self._reader.get_item(TableName=table, Key=dict(key), ConsistentRead=True).get("Item"))

    def _writes(self, op: str, params: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """(operation, table, key) of each item the call writes."""
        if op != "TransactWriteItems":
            entries = [(op.removesuffix("Item"), params)]
        else:
            entries = [next(iter(e.items())) for e in params["TransactItems"]]
        found = []
        for action, body in entries:
            if action == "ConditionCheck":
                continue
            key = body.get("Key") or self._key(body["TableName"], body["Item"])
            found.append((action, body["TableName"], dict(key)))
        return found

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        writes = self._writes(model.name, params)
        self._pending.writes = [(action, table, key, self._read(table, key)) for action, table, key in writes]

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        error = parsed.get("Error", {}).get("Code")
        transactional = model.name == "TransactWriteItems"
        failed = error in ("ConditionalCheckFailedException", "TransactionCanceledException")
        for action, table, key, before in getattr(self._pending, "writes", []):
            after = 0 if failed or action == "Delete" else self._read(table, key)
            units = write_units(
                before=before,
                after=after,
                delete=action == "Delete",
                condition_failed=failed,
                transactional=transactional,
            )
            with self._lock:
                self.units[self._logical.get(table, table)] += units
