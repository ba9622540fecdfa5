"""The guard at the aggregate stage, through the local runner against the strict local AWS: a change whose sum
DynamoDB refuses is set aside with its reason in the aggregate poison queue, the rest is applied, and the shard
is not blocked (no retry, nothing given up to the on-failure destination). The sums are the reduce's: the map
writes each change's partial (its own sums fit), the reduce's ADD is refused, and that partial is set aside."""

from __future__ import annotations

from decimal import Decimal

import pytest

from localpipe.faults.scenario import Send
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.stack.local import local_stack
from localpipe.stack.readback import queue_bodies
from localpipe.stack.resources import Deployed
from localpipe.stack.shapes import risk_message, state_item
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.models import Hierarchy
from riskpipe.numbers import TOO_MANY_DIGITS

DELTA = Hierarchy(RiskType="Delta", Region="EMEA", TradeDesk="FXSpot")
PV = Hierarchy(RiskType="PV", Region="AMER", TradeDesk="FXOptions")


def write_before_the_domain(deployed: Deployed, trade: str, value: str) -> None:
    """A StateTable item as a StateLambda without the numeric domain wrote it (the domain never saw it)."""
    message = risk_message(trade, 0, value, hierarchy=DELTA, timestamp=1700000000, checked=False)
    deployed.client("dynamodb").put_item(TableName=deployed.names["StateTable"], Item=state_item(message))


@pytest.mark.timeout(240)
def test_given_a_change_whose_sum_dynamodb_refuses_when_the_pipeline_runs_then_it_is_set_aside_without_blocking(
    moto_endpoint,
):
    with local_stack(moto_endpoint) as deployed:
        # One change per aggregate batch: the refusal is DynamoDB's (an ADD whose result needs 40 digits).
        pipeline = LocalPipeline(deployed, mapping_overrides={"AggregateFunction": {"BatchSize": 1}})
        write_before_the_domain(deployed, "OLD-1", "1E+37")
        write_before_the_domain(deployed, "OLD-2", "0.01")  # Delta would need 40 digits: refused
        sends = [Send.of(risk_message(f"T{i}", 0, Decimal(i), hierarchy=PV)) for i in range(1, 6)]
        report = pipeline.run(sends)
        set_aside = queue_bodies(deployed.client("sqs"), deployed.names["AggregatePoisonQueue"])

    assert [(body["partial_id"], body["deltas"]["Delta"]) for body in set_aside] == [("OLD-2#0", "0.01")]
    assert set_aside[0]["reason"] == f"DynamoDB refused the partial's sums as invalid: {TOO_MANY_DIGITS}"
    for stats in (pipeline.aggregate_mapping.stats, pipeline.reduce_mapping.stats):
        assert stats.function_errors == stats.partial_failures == 0  # never retried: the shards moved on
    assert report.aggregate_exhausted == report.aggregate_failure_messages == report.reduce_exhausted == 0
    assert report.partials_left == 1  # the set-aside partial stays in the PartialTable: the repair clears it
    assert report.aggregate_set_aside == 1
    assert report.aggregates["Delta"] == report.aggregates["Delta:FXSpot:EMEA"] == Decimal("1E+37")
    assert report.aggregates["PV"] == report.aggregates["PV:FXOptions:AMER"] == Decimal(15)  # the rest applied
    assert report.message_count == 6 and MESSAGE_COUNT_ID not in report.aggregates  # 5 sent + OLD-1
