"""End to end on a deployed stack: messages go in through the real producer Lambda; the StateTable ends up
with the newest version of each trade and the aggregates move by exactly the latest values sent."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from localpipe.readback import read_aggregates, read_state
from riskpipe.aggregation import MESSAGE_COUNT_ID, compare_aggregates, expected_aggregates
from riskpipe.models import Hierarchy, RiskMessage

pytestmark = pytest.mark.e2e
ORDER = ("RiskType", "TradeDesk", "Region")


def wait_for(condition: Callable[[], bool], seconds: float = 180.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(3)
    return condition()


def messages(run: str) -> list[RiskMessage]:
    """Three trades of this run, revised, with a duplicate and a late (stale) version."""
    hierarchy = Hierarchy(RiskType="Delta", Region="EMEA", TradeDesk="FXSpot")
    sent = [
        RiskMessage(
            TradeID=f"E2E-{run}-{t}", Value=Decimal(f"{t}{v}.25"), Version=v, Timestamp=Decimal(1), Hierarchy=hierarchy
        )
        for t in range(3)
        for v in range(3)
    ]
    return [*sent, sent[4], sent[0]]  # a duplicate, and version 0 of trade 0 again, after its version 2


def invoke(deployed: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    response = (
        deployed["session"]
        .client("lambda")
        .invoke(FunctionName=deployed["ProducerFunctionName"], Payload=json.dumps(event).encode())
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload  # type: ignore[no-any-return]


def test_given_revisions_duplicates_and_a_late_version_when_sent_then_state_and_aggregates_are_exact(deployed):
    dynamodb = deployed["session"].client("dynamodb")
    before = read_aggregates(dynamodb, deployed["AggregateTableName"])
    sent = messages(uuid.uuid4().hex[:8])
    result = invoke(deployed, {"messages": [json.loads(m.to_wire()) for m in sent]})
    assert result["sent"] == len(sent)

    newest = {m.TradeID: m for m in sent if m.Version == 2}
    assert wait_for(
        lambda: all(read_state(dynamodb, deployed["StateTableName"]).get(t) == m for t, m in newest.items())
    ), "the StateTable does not hold the newest version of every trade"

    def exact() -> bool:
        now = read_aggregates(dynamodb, deployed["AggregateTableName"])
        wanted = dict(before)
        for identifier, delta in expected_aggregates(sent, ORDER).items():
            wanted[identifier] = wanted.get(identifier, Decimal(0)) + delta
        wanted.pop(MESSAGE_COUNT_ID, None)
        return not compare_aggregates(wanted, {k: v for k, v in now.items() if k != MESSAGE_COUNT_ID})

    assert wait_for(exact), "the aggregates did not move by exactly the latest values sent"


def test_given_the_stack_when_described_then_its_alarms_and_dashboard_exist(deployed):
    cloudwatch = deployed["session"].client("cloudwatch")
    stack_functions = {deployed[k] for k in ("StateFunctionName", "AggregateFunctionName", "ReduceFunctionName")}
    alarms = cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    iterator_age = {d["Value"] for a in alarms if a.get("MetricName") == "IteratorAge" for d in a.get("Dimensions", [])}
    assert stack_functions <= iterator_age
    assert deployed["DashboardUrl"].startswith("https://")
