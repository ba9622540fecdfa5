"""``make pipeline ARGS="... --redrive"``: the redrive of a deployed stack, run with its own code against the local
pipeline's stack."""

from __future__ import annotations

from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.redrive.plan import RedriveReport
from localpipe.redrive.run import Redrive, exact
from localpipe.redrive.stack import RedriveStack


def redrive(pipeline: LocalPipeline) -> RedriveReport:
    """Stop every fault, drain, bring back what the stages gave up with the redrive's own code (as against a
    deployed stack), and drain again: what it put back on the stream reaches the aggregates before they are
    reconciled with the StateTable."""
    pipeline.faults.stop()
    pipeline.drain()
    stack = RedriveStack.from_deployed(pipeline.deployed, pipeline.stack_tables())
    run = Redrive.on(stack, pipeline.deployed.client, wait_seconds=0)
    report = run.run()
    pipeline.drain()
    report.exact = exact(run.tables)
    return report
