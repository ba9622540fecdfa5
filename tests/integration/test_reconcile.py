"""Reconcile against the StateTable: records dropped by the aggregate stage are found as drift per Identifier,
repair sets the totals (and message_count) right, and the pipeline, resumed, stays exact: the repaired markers
make every change already counted by the repair a duplicate, and later revisions apply on top."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from localpipe.commands.cli import main
from localpipe.faults.rates import FaultRates
from localpipe.faults.scenario import Send, scenario_sends
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.redrive.drift import reconcile, repair
from localpipe.stack.lambda_context import AGGREGATE_FUNCTION
from localpipe.stack.local import deploy_local, local_stack, stack_tables
from localpipe.stack.readback import read_aggregates
from localpipe.stack.shapes import risk_message, state_item
from riskpipe.aggregation import compare_aggregates, expected_aggregates
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.models import Hierarchy
from riskpipe.partials import BY_PARTIAL, ONE_PARTITION, Partial, combined_key

DROPS = FaultRates(function_errors=0.3)


@pytest.mark.timeout(300)
def test_given_dropped_aggregate_records_when_reconciled_then_the_drift_is_found_and_repair_sets_it_right(
    moto_endpoint,
):
    sends = scenario_sends(messages=300, trades=40, seed=7, rates=DROPS)
    revisions = [
        Send.of(s.message.model_copy(update={"Version": s.message.Version + 100}))
        for s in sends[:20]
        if s.message is not None
    ]
    with local_stack(moto_endpoint) as deployed:
        client = deployed.client("dynamodb")
        # The aggregate stage gives a record up at its first error: records are dropped, the totals drift.
        dropping = LocalPipeline(
            deployed, rates=DROPS, seed=7, mapping_overrides={AGGREGATE_FUNCTION: {"MaximumRetryAttempts": 0}}
        )
        report = dropping.run(sends)
        assert report.aggregate_exhausted > 0 and report.state_exact

        tables = stack_tables(deployed)
        found = reconcile(client, tables)
        assert not found.exact
        assert found.drift == compare_aggregates(
            found.expected, report.aggregates | {MESSAGE_COUNT_ID: report.message_count}
        )
        assert found.expected[MESSAGE_COUNT_ID] == report.outcomes["accepted"]  # what message_count counts
        messages = [s.message for s in sends if s.message is not None]
        assert {k: v for k, v in found.expected.items() if k != MESSAGE_COUNT_ID} == expected_aggregates(
            messages, tables.order
        )

        done = repair(client, tables, found)
        assert done.aggregates_rewritten == len(found.drift) and done.markers_moved > 0
        assert reconcile(client, tables).exact

        # Resumed: a new consumer reads both streams again from their start, and later revisions arrive.
        resumed = LocalPipeline(deployed, seed=6)
        resumed.run(revisions)
        after = reconcile(client, tables)
        assert after.exact, after.drift
        assert after.expected == {
            **expected_aggregates(messages + [s.message for s in revisions if s.message], tables.order),
            MESSAGE_COUNT_ID: report.outcomes["accepted"] + len(revisions),
        }


@pytest.mark.timeout(300)
def test_given_the_local_run_when_make_reconcile_runs_then_it_exits_1_on_drift_and_0_once_repaired(capsys):
    # --local-pipeline: the local run even when a stack of make up is up (the command would reconcile that one)
    arguments = ["reconcile", "--local-pipeline", "--messages", "200", "--trades", "30", "--function-errors", "0.3"]
    assert main(arguments) == 1
    assert "drift:" in capsys.readouterr().out
    assert main([*arguments, "--repair"]) == 0
    assert "no drift" in capsys.readouterr().out


def test_given_a_deployed_stack_when_reconciled_by_name_then_its_tables_are_found_from_its_outputs(aws, capsys):
    """``--stack``: the tables come from the stack's outputs, as ``make watch --stack`` finds them (with the
    combining level on: partials wait in the ReduceTable and the PartialTable)."""
    stack = deploy_local(aws, overrides={"Combining": "true"})
    names = stack.names
    outputs = {
        "StateTableName": names["StateTable"],
        "AggregateTableName": names["AggregateTable"],
        "AggregateMarkerTableName": names["AggregateMarkerTable"],
        "ReduceTableName": names["ReduceTable"],
        "PartialTableName": names["PartialTable"],
    }
    stack.client("cloudformation").create_stack(
        StackName="risk-pipeline-dev",
        TemplateBody=json.dumps(
            {
                "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()},
            }
        ),
    )
    client = stack.client("dynamodb")
    pv = Hierarchy(RiskType="PV", Region="EMEA", TradeDesk="FXSpot")
    trade = risk_message("T1", 3, "12.5", hierarchy=pv, timestamp=1700000000)
    client.put_item(TableName=names["StateTable"], Item=state_item(trade, accepted_versions=2))
    # and partials waiting that the StateTable does not account for (their trade was corrected): one of the map's
    # for the combining lanes, one combined for the reduce
    waiting = Partial("T9#0", {"PV": Decimal(1)}, 1)
    client.put_item(TableName=names["PartialTable"], Item=waiting.to_item(BY_PARTIAL))
    combined = Partial(combined_key("T8#0"), {"PV": Decimal(2)}, 2, combined=True)
    client.put_item(TableName=names["ReduceTable"], Item=combined.to_item(ONE_PARTITION))
    assert main(["reconcile", "--stack", "risk-pipeline-dev"]) == 1
    out = capsys.readouterr().out
    assert "PV:FXSpot:EMEA" in out and "2 partials" in out  # one waiting in each table
    assert main(["reconcile", "--stack", "risk-pipeline-dev", "--repair"]) == 0
    for table in ("PartialTable", "ReduceTable"):  # the repair cleared the pending partials, in both tables
        assert client.scan(TableName=names[table])["Items"] == []
    assert read_aggregates(client, names["AggregateTable"]) == {
        "PV": Decimal("12.5"),
        "PV:FXSpot": Decimal("12.5"),
        "PV:FXSpot:EMEA": Decimal("12.5"),
        MESSAGE_COUNT_ID: 2,
    }
    marker = client.get_item(TableName=names["AggregateMarkerTable"], Key={"pk": {"S": "T1"}})["Item"]
    assert marker["AppliedVersion"] == {"N": "3"}
