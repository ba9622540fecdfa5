"""Property: the sums of accepted values never fail. Any sum of at most MAX_TRADES values that the StateLambda
accepts is stored by the strict local AWS (DynamoDB's number rules, ADD results included), exactly; a value
outside the domain (one more digit before or after the point) can make such a sum fail: the bound is not looser
than it needs to be.

A trade's value counted ``m`` times is added as one ``ADD`` of ``m x value``: a partial sum of at most MAX_TRADES
accepted values, as an aggregate holds when ``m`` trades have that value."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal, localcontext
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from localpipe.stack.local import local_stack
from localpipe.stack.readback import read_aggregates
from riskpipe.aggregate_store import add_item
from riskpipe.models import PoisonRecordError, decode_risk_message
from riskpipe.numbers import MAX_TRADES, VALUE_MAX_DECIMAL_PLACES, VALUE_MAX_EXCLUSIVE
from tests.bad_records import raw_value

LARGEST = VALUE_MAX_EXCLUSIVE - Decimal(10) ** -VALUE_MAX_DECIMAL_PLACES
WIDE = 400  # digits: the exact sums below, whatever they are


@pytest.fixture(scope="module")
def aggregates() -> Iterator[tuple[Any, str]]:
    with local_stack(in_process=True) as deployed:
        yield deployed.client("dynamodb"), deployed.names["AggregateTable"]


def accepted(value: Decimal) -> bool:
    try:
        return decode_risk_message(raw_value(format(value, "f"))).Value == value
    except PoisonRecordError:
        return False


def add_all(client: Any, table: str, terms: list[tuple[Decimal, int]]) -> tuple[str, Decimal]:
    identifier = uuid.uuid4().hex
    for value, times in terms:
        with localcontext() as context:
            context.prec = WIDE
            delta = value * times
        client.update_item(**add_item(table, identifier, delta)["Update"])
    return identifier, read_aggregates(client, table)[identifier]


values = st.one_of(
    st.decimals(min_value=-LARGEST, max_value=LARGEST, places=VALUE_MAX_DECIMAL_PLACES, allow_nan=False),
    st.sampled_from([LARGEST, -LARGEST, Decimal("0.000001"), Decimal("-0.000001"), Decimal("0.01")]),
)


@st.composite
def sums(draw: st.DrawFn) -> list[tuple[Decimal, int]]:
    """Values the StateLambda accepts, each counted some number of times, MAX_TRADES counts in all at most."""
    terms = draw(st.lists(st.tuples(values, st.integers(1, MAX_TRADES)), min_size=1, max_size=12))
    budget, bounded = MAX_TRADES, []
    for value, times in terms:
        if budget == 0:
            break
        bounded.append((value, min(times, budget)))
        budget -= bounded[-1][1]
    return bounded


@given(terms=sums())
def test_given_accepted_values_when_at_most_max_trades_of_them_are_added_then_dynamodb_stores_the_exact_sum(
    aggregates, terms
):
    client, table = aggregates
    assert all(accepted(value) for value, _ in terms)
    _, stored = add_all(client, table, terms)  # raises ClientError (ValidationException) if a sum breaks the rules
    with localcontext() as context:
        context.prec = WIDE
        assert stored == sum((value * times for value, times in terms), Decimal(0))


@pytest.mark.parametrize(
    ("outside", "terms"),
    [
        (Decimal("1E+19"), [(Decimal("1E+19"), MAX_TRADES - 1), (LARGEST, 1)]),  # one more digit before the point
        (Decimal("0.0000001"), [(LARGEST, MAX_TRADES - 1), (Decimal("0.0000001"), 1)]),  # one more after it
    ],
)
def test_given_a_value_outside_the_domain_when_summed_with_accepted_ones_then_the_sum_can_fail(
    aggregates, outside, terms
):
    client, table = aggregates
    assert not accepted(outside)
    with pytest.raises(ClientError, match="38 significant digits"):
        add_all(client, table, terms)
