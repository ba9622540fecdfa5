"""One idea, one home: the hierarchy levels, ``message_count``, the transaction limit and the partial item's shape
are each defined once in the Python sources, and template.yaml's allowed aggregation orders are exactly the
orders of those levels."""

from __future__ import annotations

import ast
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from boto3.dynamodb.types import TypeDeserializer
from samtranslator.yaml_helper import yaml_parse

from riskpipe.identifiers import DEFAULT_AGGREGATION_ORDER, HIERARCHY_LEVELS, MESSAGE_COUNT_ID, orders
from riskpipe.models import Hierarchy
from riskpipe.partials import BY_PARTIAL, ONE_PARTITION, REDUCE_PARTITION, Partial, Timestamps

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("layers/shared/riskpipe", "functions", "localpipe", "labs", "capacity", "benchmarks")


def source_trees() -> dict[str, ast.Module]:
    """Every Python module the project ships or runs (the tests left out: they state expected values)."""
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(), filename=str(path))
        for folder in SOURCES
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def where(predicate: Callable[[ast.AST], bool]) -> list[str]:
    """The modules where a node matches, once per match."""
    return [name for name, tree in source_trees().items() for node in ast.walk(tree) if predicate(node)]


def is_constant(node: ast.AST, value: object) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is type(value) and node.value == value


def names_levels(node: ast.AST) -> bool:
    """A tuple or list literal naming two hierarchy levels or more: a copy of the levels, or of an order of them."""
    if not isinstance(node, ast.Tuple | ast.List):
        return False
    named = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return len(named & set(HIERARCHY_LEVELS)) >= 2


def assigns(node: ast.AST, name: str) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


def template_order_parameter() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]["AggregationOrder"]


def test_given_the_python_sources_when_scanned_then_the_hierarchy_levels_are_written_once():
    # Given every module of the layer, the functions, the local runner, the labs, the models and the benchmarks
    # When their literal tuples and lists of level names, and the assignments of the levels, are found
    literals = where(names_levels)
    definitions = where(lambda node: assigns(node, "HIERARCHY_LEVELS"))

    # Then there is one of each, in riskpipe/identifiers.py, and the typed Hierarchy has exactly those fields
    assert literals == ["layers/shared/riskpipe/identifiers.py"]
    assert definitions == ["layers/shared/riskpipe/identifiers.py"]
    assert set(Hierarchy.model_fields) == set(HIERARCHY_LEVELS)


def test_given_the_python_sources_when_scanned_then_message_count_is_written_once():
    assert where(lambda node: is_constant(node, "message_count")) == ["layers/shared/riskpipe/identifiers.py"]
    assert MESSAGE_COUNT_ID == "message_count"


def test_given_the_python_sources_when_scanned_then_the_transaction_limit_is_written_once():
    # Given DynamoDB's limit of 100 items in one transaction
    def max_items_of_100(node: ast.AST) -> bool:
        """A parameter, field or name about a transaction's items, given 100 as it is."""
        if isinstance(node, ast.arguments):
            named = [*node.posonlyargs, *node.args][len(node.posonlyargs) + len(node.args) - len(node.defaults) :]
            pairs = [*zip(named, node.defaults, strict=True), *zip(node.kwonlyargs, node.kw_defaults, strict=True)]
            return any("max_items" in arg.arg and value is not None and is_constant(value, 100) for arg, value in pairs)
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            return "MAX_ITEMS" in ast.unparse(node).upper() and is_constant(node.value, 100)
        return False

    # When the sources are scanned for it, Then it is written once, in riskpipe/aggregation.py
    assert where(max_items_of_100) == ["layers/shared/riskpipe/aggregation.py"]


def test_given_the_template_when_its_aggregation_orders_are_read_then_they_are_every_order_of_the_levels():
    # Given the levels: every ordered selection of them, non-empty, each level at most once (15 for 3 levels)
    expected = {",".join(order) for order in orders()}
    assert len(expected) == 15

    # When the template's AggregationOrder parameter is read
    parameter = template_order_parameter()

    # Then it allows exactly those, written once each, and its default is the layer's
    assert sorted(parameter["AllowedValues"]) == sorted(expected)
    assert parameter["Default"] == ",".join(DEFAULT_AGGREGATION_ORDER)


def test_given_a_partial_when_written_as_its_item_and_read_back_from_the_stream_then_it_is_the_same_partial():
    stamps = Timestamps(Decimal("1700000000.25"), Decimal("1700000001.5"), Decimal("3400000001.75"), 2)
    for partial in (
        Partial("T-1#0", {"Delta": Decimal("12.5"), "Delta:FXSpot": Decimal("-3")}, 2, stamps),
        Partial("T-2#4", {}, 1),
    ):
        for keys in (BY_PARTIAL, ONE_PARTITION):  # in the PartialTable and in the ReduceTable
            image = TypeDeserializer().deserialize({"M": partial.to_item(keys)})  # as the table's stream gives it

            assert Partial.from_image(image) == partial
    # the ReduceTable keeps every partial under one partition key, its id as sort key
    assert ONE_PARTITION.key("T-1#0") == {"pk": {"S": REDUCE_PARTITION}, "sk": {"S": "T-1#0"}}
    assert BY_PARTIAL.key("T-1#0") == {"pk": {"S": "T-1#0"}}


def test_given_the_python_sources_when_scanned_then_only_the_partial_writes_and_reads_its_item():
    assert set(where(lambda node: is_constant(node, "MessageCount"))) == {"layers/shared/riskpipe/partials.py"}
