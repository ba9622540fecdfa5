"""The capacity model against real calls: with one lane and no contention, the write units per message that the
model charges are within 20% of what the project's own handlers spend on moto, counted by the benchmarks'
CapacityMeter (``benchmarks.units``) from the requests themselves."""

from __future__ import annotations

import pytest

from benchmarks import costs
from benchmarks.common import batches, moto_stack
from benchmarks.units import CapacityMeter
from benchmarks.variants import one_transaction_aggregate
from capacity.model import CURRENT, NEW, one_lane
from capacity.params import Params
from capacity.traffic import record_of
from localpipe.stack.shapes import stream_records
from riskpipe.config import AggregateSettings
from riskpipe.producer import generate_messages, workshop_calls


def aggregate_stage(design: str, session, deployed):  # type: ignore[no-untyped-def]
    """The design as the project runs it: the map and the reduce (new), or the previous one-transaction stage."""
    if design == NEW:
        return costs.MapThenReduce(session, deployed)
    env = deployed.function_env(deployed.template.functions()["AggregateFunction"])
    settings = AggregateSettings.from_env(env)
    client = session.client("dynamodb")
    return one_transaction_aggregate(
        client, deployed.names["AggregateTable"], settings.marker_table_name, settings.aggregation_order
    )


@pytest.mark.parametrize("design", [CURRENT, NEW])
@pytest.mark.parametrize("traffic", ["workshop", "benchmark"])
def test_given_one_lane_and_no_contention_when_modelled_then_write_units_per_message_match_the_measured(
    traffic: str, design: str
) -> None:
    if traffic == "workshop":
        messages = [m for call in workshop_calls(seed=5, calls=8, now=1.7e9) for m in call]
    else:  # the benchmarks' own shape: few trades, revised often
        messages = generate_messages(400, 100, seed=12, duplicates=0.1, now=1.7e9)

    # Given the real StateLambda (batches of 100) and aggregate service (one batch) on moto, metered
    with moto_stack() as (session, deployed):
        meter = CapacityMeter(session)
        state = costs._ours(session, deployed)
        meter.reset()
        for batch in batches(stream_records(*messages), 100):
            state.decide(list(batch))
        measured_state = meter.write_units / len(messages)
        changes = [c for c in costs._changes(deployed) if c.applies]
        service = aggregate_stage(design, session, deployed)
        meter.reset()
        outcome = service.apply(changes)
        if design == NEW:
            service.drain()  # the reduce applies the map's partials
        measured_aggregate = meter.write_units / len(messages)
    assert len(outcome.applied) == len(changes) and not outcome.failed

    # When the model runs the same messages through one lane, batches of 100 and then 1,000
    result = one_lane(design, [record_of(m) for m in messages], 1000, Params.from_template())
    modelled_state = result.write_units_total["StateTable"] / len(messages)
    aggregate_tables = ("AggregateMarkerTable", "AggregateTable", "PartialTable")
    modelled_aggregate = sum(result.write_units_total.get(t, 0.0) for t in aggregate_tables) / len(messages)

    # Then both stages' write units per message agree within 20%
    assert result.changes_applied == len(changes)
    assert modelled_state == pytest.approx(measured_state, rel=0.2)
    assert modelled_aggregate == pytest.approx(measured_aggregate, rel=0.2)
