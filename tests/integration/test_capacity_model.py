"""The capacity model's write units against an independent source: the project's own handlers run on moto (the
StateLambda, then each design of the aggregate stage as the project runs it), every write they make priced by
DynamoDB's documented rules (``tests/dynamodb_rules.py``) from the items themselves, read back before and after
each write. Not the model's pricing (``capacity/``), not the benchmarks' counting, not moto's ConsumedCapacity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from benchmarks import costs
from benchmarks.common import batches
from benchmarks.variants import one_transaction_aggregate
from capacity.deployment import Design
from capacity.model import one_lane
from capacity.params import Params
from capacity.traffic import record_of
from functions.combine import app as combine_app
from functions.reduce import app as reduce_app
from localpipe.esm.streams import DynamoDBStreamReader
from localpipe.stack.local import function_env, local_stack
from localpipe.stack.resources import Deployed
from localpipe.stack.shapes import stream_records
from riskpipe.config import AggregateSettings, CombineSettings
from riskpipe.partials import plan_combine
from riskpipe.producer import generate_messages, workshop_calls
from tests.dynamodb_rules import DocumentedMeter

TABLES = ("StateTable", "AggregateMarkerTable", "AggregateTable", "PartialTable", "ReduceTable")
BATCH = 1000  # the map's batch here and in the model (one lane, filled)


def inserts(reader: DynamoDBStreamReader) -> list[Any]:
    """The new partials on a table's stream since the last read."""
    records = [r.lambda_record for r in reader.poll() if r.lambda_record["eventName"] == "INSERT"]
    return [reduce_app.to_partial(costs._record(r)) for r in records]


class Stage:
    """A design of the aggregate stage as the project runs it, on a metered local stack."""

    def __init__(self, design: Design, deployed: Deployed) -> None:
        self.design, self.deployed = design, deployed
        session = deployed.session
        if design is Design.ONE_TRANSACTION:
            settings = AggregateSettings.from_env(function_env(deployed, "AggregateFunction"))
            self.one = one_transaction_aggregate(
                session.client("dynamodb"),
                deployed.names["AggregateTable"],
                settings.marker_table_name,
                settings.aggregation_order,
            )
            return
        self.map_reduce = costs.MapThenReduce(session, deployed)  # the reduce on the ReduceTable's stream
        if design.combining:
            settings = CombineSettings.from_env(function_env(deployed, "CombineFunction"))
            self.combine = combine_app.build_service(settings, session=session)
            streams = deployed.client("dynamodbstreams")
            self.reader = DynamoDBStreamReader(streams, deployed.stream_arns["PartialTable"])

    def apply(self, changes: Sequence[Any]) -> int:
        """Every change through the stage; the changes applied."""
        if self.design is Design.ONE_TRANSACTION:
            return len(self.one.apply(list(changes)).applied)
        applied = len(self.map_reduce.apply(list(changes)).applied)
        if self.design.combining:  # the map's partials in the PartialTable, combined into the ReduceTable
            for batch in batches(inserts(self.reader), BATCH):
                self.combine.apply(list(batch))
        self.map_reduce.drain()
        return applied


def measured(design: Design, messages: list[Any]) -> tuple[dict[str, float], int]:
    """Documented write units a message of each table, the real handlers on moto; the changes applied."""
    combining = {"Combining": "true" if design.combining else "false"}
    with local_stack(in_process=True, overrides=combining) as deployed:
        meter = DocumentedMeter(deployed.session, deployed.names)
        state = costs._ours(deployed.session, deployed)
        for batch in batches(stream_records(*messages), 100):
            state.decide(list(batch))
        changes = [c for c in costs._changes(deployed) if c.applies]
        applied = Stage(design, deployed).apply(changes)
        assert applied == len(changes)
        return {t: meter.units.get(t, 0) / len(messages) for t in TABLES}, len(changes)


def traffic_of(name: str) -> list[Any]:
    if name == "workshop":
        return [m for call in workshop_calls(seed=5, calls=8, now=1.7e9) for m in call]
    return generate_messages(400, 100, seed=12, duplicates=0.1, now=1.7e9)  # the benchmarks': few trades, revised


RUN = [d for d in Design if d is not Design.MAP_REDUCE_SPREAD]  # the designs the project's code runs


@pytest.mark.parametrize("design", RUN, ids=[d.value for d in RUN])
@pytest.mark.parametrize("traffic", ["workshop", "benchmark"])
def test_given_one_lane_when_modelled_then_each_tables_write_units_match_the_documented_rules_on_the_real_writes(
    traffic: str, design: Design
) -> None:
    messages = traffic_of(traffic)
    # Given the real handlers on moto, every write priced by DynamoDB's documented rules from the items themselves
    documented, changes = measured(design, messages)

    # When the model runs the same messages through one lane, the map's batch filled to the same size
    result = one_lane(
        design, [record_of(m) for m in messages], BATCH, Params.from_template(), plan_combine=plan_combine
    )
    modelled = {t: result.write_units_by_table.get(t, 0.0) for t in TABLES}

    # Then every table's write units a message agree within 3% (the model charges what DynamoDB documents)
    assert result.keeps_up or result.throughput >= 0
    for table in TABLES:
        assert modelled[table] == pytest.approx(documented[table], rel=0.03, abs=0.002), (table, modelled, documented)
    assert changes > 0
