"""The sample-event check: an observation that matches its expectation has no mismatch, and each way it can
differ is named once, in the expectation's own terms."""

from decimal import Decimal

import pytest

from localpipe.containers.samples import Expectation, Observed, mismatches
from localpipe.stack.shapes import risk_message
from riskpipe.models import RiskMessage

OK = {"batchItemFailures": []}


def _state(version: int, value: str) -> dict[str, RiskMessage]:
    return {"T1": risk_message("T1", version, value)}


EXPECTED = Expectation(
    event="state/x.json",
    function="StateFunction",
    response=OK,
    state_versions={"T1": 2},
    state_values={"T1": "300.00"},
    poison_reasons=["not valid JSON"],
    aggregates={"PV": "300.00"},
    stream_records=0,
)
MATCHING = Observed(
    response=OK,
    state=_state(2, "300.00"),
    aggregates={"PV": Decimal("300.00"), "PV:EMEA": Decimal(0)},
    poison_reasons=["record data is not valid JSON: line 1"],
    stream_records=0,
)


def test_given_an_observation_that_matches_when_checked_then_nothing_is_reported():
    assert mismatches(EXPECTED, MATCHING) == []


def test_given_an_expectation_with_nothing_to_check_when_checked_then_only_the_response_counts():
    bare = Expectation(event="state/x.json", function="StateFunction", response=OK)
    assert mismatches(bare, Observed(response=OK)) == []
    assert mismatches(bare, Observed(response={})) == [f"response {{}}, expected {OK!r}"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"response": {"batchItemFailures": [{"itemIdentifier": "1"}]}}, "response "),
        ({"state": _state(1, "300.00")}, "StateTable versions {'T1': 1}, expected {'T1': 2}"),
        ({"state": _state(2, "200.00")}, "StateTable T1 value 200.00, expected 300.00"),
        ({"poison_reasons": []}, "poison reasons [], expected ones containing ['not valid JSON']"),
        ({"poison_reasons": ["record data is not valid base64"]}, "poison reasons"),
        ({"aggregates": {"PV": Decimal("300.00"), "PV:EMEA": Decimal(1)}}, "aggregates "),
        ({"stream_records": 3}, "3 records on the stream, expected 0"),
    ],
)
def test_given_one_difference_when_checked_then_exactly_that_one_is_reported(change, problem):
    observed = Observed(**(MATCHING.__dict__ | change))
    found = mismatches(EXPECTED, observed)
    assert len(found) == 1
    assert found[0].startswith(problem)


def test_given_a_trade_missing_from_the_state_when_checked_then_its_value_and_version_are_both_reported():
    found = mismatches(EXPECTED, Observed(**(MATCHING.__dict__ | {"state": {}})))
    assert found == ["StateTable versions {}, expected {'T1': 2}", "StateTable T1 value None, expected 300.00"]
