"""The redrive, through the local runner on the strict local AWS: a fault storm that makes every stage give records
up (the StateLambda's, the map's, the combining lanes' and the reduce's mappings at 0 retries, functions failing and
crashing), poison records among them, then ``LocalPipeline.redrive`` (faults stopped, drained, the redrive's own
code, drained again): the StateTable holds the newest version of every trade sent, the aggregates are exact and
``message_count`` counts the versions accepted. The same redrive again changes nothing. Changes and partials
DynamoDB refused come back once their trade is corrected in the StateTable."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from localpipe.faults.plan import FaultPlan
from localpipe.faults.rates import FaultRates
from localpipe.faults.scenario import Send
from localpipe.pipeline.options import PipelineOptions
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.pipeline.redrive import redrive
from localpipe.redrive.plan import UNDECODABLE
from localpipe.redrive.run import Redrive
from localpipe.redrive.stack import RedriveStack
from localpipe.report.model import build_report
from localpipe.stack.local import local_stack
from localpipe.stack.readback import queue_depth, read_aggregates, read_state
from localpipe.stack.resources import Deployed
from localpipe.stack.shapes import risk_message, state_item
from riskpipe.models import Hierarchy

STORM = FaultRates(function_errors=0.3, crash_after_write=0.1, lost_checkpoint=0.05)
GIVING_UP = {"MaximumRetryAttempts": 0, "AggregateMaximumRetryAttempts": 0}


def peek(deployed: Deployed, queue: str) -> list[dict]:
    """A queue's messages, left visible (the redrive reads them next)."""
    sqs = deployed.client("sqs")
    received = sqs.receive_message(QueueUrl=deployed.names[queue], MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in received.get("Messages", [])]


def redrive_again(pipeline: LocalPipeline, edits: dict[tuple[str, str], bytes] | None = None) -> Redrive:
    stack = RedriveStack.from_deployed(pipeline.deployed, pipeline.stack_tables())
    return Redrive.on(stack, pipeline.deployed.client, wait_seconds=0, edits=edits or {})


@pytest.mark.timeout(600)
def test_given_a_fault_storm_that_gives_up_records_in_every_stage_when_redriven_then_the_aggregates_are_exact(
    moto_endpoint,
):
    # Given a storm over 1,500 messages and 5 poison records, every mapping giving a batch up at its first error
    plan = FaultPlan(STORM, seed=3, poison=5)
    sends = plan.traffic(1_500, 120)
    with local_stack(moto_endpoint, overrides=GIVING_UP) as deployed:
        pipeline = LocalPipeline(deployed, PipelineOptions(faults=plan))
        before = pipeline.run(sends)
        assert before.exhausted > 0 and before.aggregate_exhausted > 0 and before.reduce_exhausted > 0
        assert not before.exact

        # When the pipeline redrives what was given up
        report = redrive(pipeline)
        after = pipeline.record(sends, 0.0)
        aggregates = read_aggregates(deployed.client("dynamodb"), pipeline.aggregate_table)

        # Then records come back in every stage, the queues of give-ups are empty, and everything is exact
        assert all(report.brought_back[stage] > 0 for stage in ("state", "map", "reduce")), report.last_line()
        assert report.exact, report.last_line()
        assert report.fates.left() == report.fates.left(UNDECODABLE) > 0  # only the poison stays
        for queue in ("StateFailureQueue", "AggregateFailureQueue", "ReduceFailureQueue"):
            assert queue_depth(deployed.client("sqs"), deployed.names[queue]) == 0, queue
        exact = build_report(after)
        assert exact.state_exact and exact.aggregates_exact, (exact.stale_items, exact.aggregate_differences)

        # When the same redrive runs twice more
        again = [redrive_again(pipeline).run() for _ in range(2)]

        # Then nothing comes back, the same poison stays, and no aggregate moves
        assert all(sum(r.brought_back.values()) == 0 and r.exact for r in again), again[-1].last_line()
        assert [r.fates.left() for r in again] == [report.fates.left()] * 2
        assert read_aggregates(deployed.client("dynamodb"), pipeline.aggregate_table) == aggregates


@pytest.mark.timeout(600)
def test_given_the_combining_lanes_giving_up_in_a_storm_when_redriven_then_their_partials_come_back_once(moto_endpoint):
    # Given the combining level on, a storm over 800 messages, every mapping giving a batch up at its first error
    plan = FaultPlan(STORM, seed=6)
    sends = plan.traffic(800, 80)
    with local_stack(moto_endpoint, overrides={**GIVING_UP, "Combining": "true"}) as deployed:
        pipeline = LocalPipeline(deployed, PipelineOptions(faults=plan))
        before = pipeline.run(sends)
        assert before.combine_exhausted > 0 and before.reduce_exhausted > 0, before
        assert before.partials_left > 0 and not before.exact

        # When the pipeline redrives what was given up
        report = redrive(pipeline)
        after = build_report(pipeline.record(sends, 0.0))

        # Then the combining lanes' give-ups are combined by the combine's own service, then reduced, once: nothing
        # is left in either table or queue, the aggregates are exact
        assert report.brought_back["combine"] > 0 and report.brought_back["reduce"] > 0, report.last_line()
        assert report.exact and report.fates.left() == 0, report.last_line()
        for queue in ("CombineFailureQueue", "ReduceFailureQueue", "AggregateFailureQueue", "StateFailureQueue"):
            assert queue_depth(deployed.client("sqs"), deployed.names[queue]) == 0, queue
        assert after.partials_left == 0 and after.state_exact and after.aggregates_exact
        assert after.partials_combined_twice == 0 and after.partials_applied_twice == 0

        # When the same redrive runs again, Then nothing comes back
        again = redrive_again(pipeline).run()
        assert sum(again.brought_back.values()) == 0 and again.exact, again.last_line()


@pytest.mark.timeout(300)
def test_given_a_poison_record_and_its_edited_copy_when_redriven_then_the_copy_is_applied_once(moto_endpoint):
    # Given a record quarantined (its Value a string), twice (a batch delivered again quarantines it again)
    fixed = risk_message("P-1", 0, "12.50")
    bad = fixed.to_wire().replace(b'"Value":12.50', b'"Value":"12.50"')
    with local_stack(moto_endpoint) as deployed:
        pipeline = LocalPipeline(deployed, rates=FaultRates(lost_checkpoint=0.9), seed=1)
        pipeline.run([Send(bad, "P-1"), Send.of(risk_message("Q-1", 0, "1.00"))])
        poison = peek(deployed, "PoisonQueue")
        assert len(poison) > 1 and len({(p["shard_id"], p["sequence_number"]) for p in poison}) == 1
        key = (poison[0]["shard_id"], poison[0]["sequence_number"])
        assert base64.b64decode(poison[0]["data_base64"]) == bad

        # When redriven without its copy, then with it
        kept = redrive_again(pipeline).run()
        fixed_report = redrive_again(pipeline, {key: fixed.to_wire()}).run()
        pipeline.drain()

        # Then it stays once (its copies counted once), then comes back once and is applied
        assert kept.fates.left() == kept.fates.left(UNDECODABLE) == 1 and kept.brought_back["poison"] == 0
        assert fixed_report.brought_back["poison"] == 1 and fixed_report.fates.left() == 0
        assert queue_depth(deployed.client("sqs"), deployed.names["PoisonQueue"]) == 0
        assert read_state(deployed.client("dynamodb"), pipeline.state_table)["P-1"] == fixed
        assert read_aggregates(deployed.client("dynamodb"), pipeline.aggregate_table)["message_count"] == 2


DELTA = Hierarchy(RiskType="Delta", Region="EMEA", TradeDesk="FXSpot")
PV = Hierarchy(RiskType="PV", Region="AMER", TradeDesk="FXOptions")


def write_before_the_domain(deployed: Deployed, trade: str, version: int, value: str, hierarchy: Hierarchy) -> None:
    """A StateTable item as a StateLambda without the numeric domain would have written it (its version-th)."""
    message = risk_message(trade, version, value, hierarchy=hierarchy, timestamp=1700000000, checked=False)
    item = state_item(message, accepted_versions=version + 1)
    deployed.client("dynamodb").put_item(TableName=deployed.names["StateTable"], Item=item)


@pytest.mark.timeout(300)
def test_given_a_change_and_a_partial_dynamodb_refused_when_their_trades_are_corrected_then_they_come_back(
    moto_endpoint,
):
    with local_stack(moto_endpoint) as deployed:
        pipeline = LocalPipeline(deployed, mapping_overrides={"AggregateFunction": {"BatchSize": 1}})
        # Given a partial the reduce refused (Delta would need 40 digits) and a change the map refused (its own
        # delta, 0.01 less 1E+37, would), both set aside
        write_before_the_domain(deployed, "OLD-1", 0, "1E+37", DELTA)
        write_before_the_domain(deployed, "OLD-2", 0, "0.01", DELTA)
        write_before_the_domain(deployed, "OLD-3", 0, "1E+37", PV)
        write_before_the_domain(deployed, "OLD-3", 1, "0.01", PV)
        pipeline.drain()
        set_aside = peek(deployed, "AggregatePoisonQueue")
        assert sorted(b.get("partial_id") or b["trade_id"] for b in set_aside) == ["OLD-2#0", "OLD-3"]
        refused = redrive_again(pipeline).run()
        assert refused.fates.left() == refused.fates.left("set aside") == 2 and not refused.exact

        # When both trades are corrected in the StateTable (the next change of OLD-3 heals its gap), and redriven
        write_before_the_domain(deployed, "OLD-1", 1, "1", DELTA)
        write_before_the_domain(deployed, "OLD-3", 2, "3", PV)
        report = redrive(pipeline)

        # Then the partial is applied, the change's message goes (its trade is applied), and the totals are exact
        assert report.brought_back["reduce"] == 1 and report.fates.left() == 0, report.last_line()
        assert report.exact, report.last_line()
        aggregates = read_aggregates(deployed.client("dynamodb"), pipeline.aggregate_table)
        assert aggregates["Delta"] == Decimal("1.01") and aggregates["PV"] == Decimal(3)
        assert aggregates["message_count"] == 2 + 1 + 3
        assert queue_depth(deployed.client("sqs"), deployed.names["AggregatePoisonQueue"]) == 0
