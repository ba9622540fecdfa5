"""The whole pipeline on an embedded moto server, with faults: exact; the naive version on the same seed is not."""

import pytest

from localpipe.faults.rates import FaultRates
from localpipe.faults.scenario import scenario_sends
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.stack.local import local_stack

RATES = FaultRates(duplicates=0.15, out_of_order=0.1, function_errors=0.1, crash_after_write=0.1, lost_checkpoint=0.05)


def run(naive: bool):
    sends = scenario_sends(messages=300, trades=30, seed=3, rates=RATES, poison=2)
    with local_stack() as deployed:
        pipeline = LocalPipeline(deployed, rates=RATES, seed=3, naive=naive)
        return pipeline.run(sends, burst=100)


@pytest.mark.timeout(240)
def test_given_duplicates_crashes_and_lost_checkpoints_when_the_pipeline_runs_then_everything_is_exact():
    report = run(naive=False)
    assert report.exact, (report.stale_items, report.aggregate_differences, report.unaccounted)
    assert report.outcomes["poison"] == 2 and report.poison_in_queue == 2
    retried = report.retried_batches + report.map_retried_batches + report.reduce_retried_batches
    assert retried > 0 and report.lost_checkpoints > 0
    assert report.partials_written == report.partials_applied > 0 and report.partials_left == 0


@pytest.mark.timeout(240)
def test_given_the_same_faults_when_the_naive_pipeline_runs_then_it_double_counts():
    report = run(naive=True)
    assert not report.aggregates_exact
    assert report.message_count > report.outcomes["accepted"]
