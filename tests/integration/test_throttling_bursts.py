"""Throttling bursts (a hot partition refusing writes for a while) through the whole local pipeline: the
StateLambda waits them out within its invocation, so no good record exhausts its retries; without that wait,
records behind throttled neighbours do, and their positions reach the failure destination."""

from collections.abc import Sequence

import pytest

from localpipe.faults.rates import FaultRates
from localpipe.faults.scenario import scenario_sends
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.report.model import PipelineReport
from localpipe.stack.local import local_stack
from riskpipe.state_service import BatchDecider, BatchDecisions, StreamRecord

# The rate and length docs/architecture.md states: 3% of write calls start a burst of 3 to 12 refusals.
BURSTS = FaultRates(throttling_bursts=0.03, burst_length=(3, 12))
POISON = 3


class WithoutWaiting:
    """The StateLambda as it was: a write still throttled after the SDK's attempts fails its trade at once."""

    def __init__(self, inner: BatchDecider) -> None:
        self.inner = inner

    def decide(self, records: Sequence[StreamRecord], time_left: float | None = None) -> BatchDecisions:
        return self.inner.decide(records)


def run(endpoint: str, *, wait: bool) -> PipelineReport:
    """One shard, and 3 retries where the template allows 10: a harder case than the template's, and short."""
    sends = scenario_sends(messages=400, trades=400, seed=11, rates=BURSTS, poison=POISON)
    with local_stack(endpoint, overrides={"ShardCount": 1, "MaximumRetryAttempts": 3}) as deployed:
        pipeline = LocalPipeline(deployed, rates=BURSTS, seed=11)
        if not wait:
            pipeline.state_recorder.inner = WithoutWaiting(pipeline.state_recorder.inner)
        return pipeline.run(sends, burst=400)


@pytest.mark.timeout(240)
def test_given_throttling_bursts_when_the_pipeline_runs_then_only_poison_is_set_aside_and_it_is_exact(moto_endpoint):
    # Given bursts of throttling at docs/architecture.md's rate and length, and 3 poison records among 400 messages
    # When the pipeline runs with the StateLambda waiting bursts out within its invocations
    report = run(moto_endpoint, wait=True)
    # Then bursts happened and were waited out: nothing reached a failure destination, poison went to its queue
    assert report.throttling_bursts > 0 and report.throttled_calls > report.throttling_bursts
    assert report.exhausted == 0 and report.aggregate_exhausted == 0
    assert report.state_failure_messages == 0 and report.aggregate_failure_messages == 0
    assert report.outcomes["poison"] == POISON and report.poison_in_queue == POISON
    # And the tables are exact
    assert report.exact, (report.stale_items, report.aggregate_differences, report.unaccounted)


@pytest.mark.timeout(240)
def test_given_the_same_bursts_when_the_statelambda_does_not_wait_then_good_records_reach_the_failure_destination(
    moto_endpoint,
):
    # Given the same bursts, When the StateLambda fails a throttled trade as soon as the SDK gives up
    report = run(moto_endpoint, wait=False)
    # Then batches exhaust their retries: their records' positions go to the failure destination
    assert report.state_failure_messages > 0
