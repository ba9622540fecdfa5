"""The local AWS refuses the numbers DynamoDB refuses, on every write, ADD results and transactions included,
with DynamoDB's answers: both moto in process (``stack``) and the moto server the runner starts
(``server_stack``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localpipe.stack.readback import read_aggregates
from localpipe.stack.resources import Deployed
from riskpipe.aggregate_store import add_item
from riskpipe.numbers import OVERFLOW, TOO_MANY_DIGITS, UNDERFLOW

STACKS = ["stack", "server_stack"]


def add(identifier: str, value: str, table: str) -> Any:
    """The aggregate store's own ADD of a delta to one aggregate item."""
    return add_item(table, identifier, Decimal(value))


@pytest.fixture(params=STACKS)
def local(request: pytest.FixtureRequest) -> tuple[Any, str]:
    deployed: Deployed = request.getfixturevalue(request.param)
    return deployed.client("dynamodb"), deployed.names["AggregateTable"]


def test_given_1e37_stored_when_0_01_is_added_then_the_40_digit_sum_is_refused_and_nothing_changes(local):
    client, table = local
    client.update_item(**add("Delta", "1E+37", table)["Update"])
    with pytest.raises(ClientError) as refused:
        client.update_item(**add("Delta", "0.01", table)["Update"])
    assert refused.value.response["Error"] == {"Code": "ValidationException", "Message": TOO_MANY_DIGITS}
    assert read_aggregates(client, table) == {"Delta": Decimal("1E+37")}


def test_given_a_transaction_whose_add_needs_40_digits_when_written_then_it_is_cancelled_with_a_validation_error(local):
    client, table = local
    client.update_item(**add("Delta", "1E+37", table)["Update"])
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=[add("Vega", "5", table), add("Delta", "0.01", table)])
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in refused.value.response["CancellationReasons"]] == ["None", "ValidationError"]
    assert refused.value.response["CancellationReasons"][1]["Message"] == TOO_MANY_DIGITS
    assert read_aggregates(client, table) == {"Delta": Decimal("1E+37")}  # nothing of the transaction


def test_given_9_9e125_stored_when_it_is_added_again_then_the_overflow_is_refused(local):
    client, table = local
    client.update_item(**add("Delta", "9.9E+125", table)["Update"])
    with pytest.raises(ClientError, match="Number overflow") as refused:
        client.update_item(**add("Delta", "9.9E+125", table)["Update"])
    assert refused.value.response["Error"]["Message"] == OVERFLOW


def test_given_sums_inside_the_rules_when_added_then_they_are_exact(local):
    client, table = local
    for value in ("1E+31", "0.01", "-0.01", "12345678901234567890.123456"):
        client.update_item(**add("Delta", value, table)["Update"])
    assert read_aggregates(client, table) == {"Delta": Decimal("10000000000012345678901234567890.123456")}


@pytest.mark.parametrize(
    ("number", "message"),
    [("1" * 39, TOO_MANY_DIGITS), ("1E+126", OVERFLOW), ("-1E+126", OVERFLOW), ("1E-131", UNDERFLOW)],
)
def test_given_a_number_dynamodb_cannot_store_when_written_in_any_way_then_it_is_refused(local, number, message):
    client, table = local
    item = {"Identifier": {"S": "x"}, "Value": {"N": number}}
    writes = [
        lambda: client.put_item(TableName=table, Item=item),
        lambda: client.put_item(TableName=table, Item={"Identifier": {"S": "y"}, "Nested": {"L": [{"N": number}]}}),
        lambda: client.update_item(**add("x", number, table)["Update"]),
        lambda: client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item}}]),
        lambda: client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}}]}),
    ]
    for write in writes:
        with pytest.raises(ClientError) as refused:
            write()
        assert refused.value.response["Error"] == {"Code": "ValidationException", "Message": message}
    assert read_aggregates(client, table) == {}
