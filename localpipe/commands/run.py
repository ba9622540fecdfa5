"""``python -m localpipe demo | pipeline``: the whole pipeline on a local stack, checked end to end."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from localpipe.containers import emulation as containers
from localpipe.faults.plan import FaultPlan
from localpipe.faults.rates import FaultRates
from localpipe.faults.scenario import Send
from localpipe.pipeline.backend import Backend, InProcessBackend, LambdaBackend
from localpipe.pipeline.options import PipelineOptions
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.pipeline.redrive import redrive
from localpipe.redrive.plan import RedriveReport
from localpipe.report.model import PipelineReport, build_report
from localpipe.report.render import print_report, report_json, verdicts
from localpipe.stack.local import deploy_local, local_stack
from localpipe.stack.resources import Deployed
from localpipe.stack.server import local_aws_environment
from results.record import ResultStore

console = Console(stderr=False)


def pipeline_arguments(parser: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    add = parser.add_argument
    add("--messages", type=int, default=defaults.get("messages", 2_000), help="messages to generate")
    add("--trades", type=int, default=defaults.get("trades", 200), help="distinct trades")
    add("--seed", type=int, default=7, help="seed of every random choice: same seed, same run")
    add("--duplicates", type=float, default=defaults.get("duplicates", 0.0), help="producer re-send rate")
    add("--out-of-order", type=float, default=defaults.get("out_of_order", 0.0), help="late version rate")
    add("--function-errors", type=float, default=defaults.get("function_errors", 0.0), help="error before work")
    add("--crash-rate", type=float, default=defaults.get("crash_rate", 0.0), help="crash after writes")
    add("--lost-checkpoint", type=float, default=0.0, help="batch delivered again after success")
    add("--throttling", type=float, default=0.0, help="DynamoDB throttling rate per write call")
    add("--throttling-bursts", type=float, default=0.0, help="rate per write call of starting a burst of refusals")
    add("--burst-length", type=_burst_length, default=(3, 12), help="refusals in one burst: N or MIN-MAX (3-12)")
    add("--overlap", type=float, default=0.0, help="second consumer on the same shard (resharding)")
    add("--poison", type=int, default=defaults.get("poison", 0), help="malformed records to mix in")
    add("--shards", type=int, default=None, help="override the template's ShardCount")
    add("--batch-size", type=int, default=None, help="override StateBatchSize")
    add("--parallelization", type=int, default=None, help="override both mappings' ParallelizationFactor")
    add("--max-retries", type=int, default=None, help="override MaximumRetryAttempts (the StateLambda's)")
    add("--aggregate-max-retries", type=int, default=None, help="override AggregateMaximumRetryAttempts (map, reduce)")
    add("--redrive", action="store_true", help="then stop the faults, drain, redrive what was given up, drain again")
    add("--naive", action="store_true", help="read-then-write StateLambda and non-idempotent aggregate")
    add("--combining", action="store_true", help="the template's Combining=true: the combining lanes before the reduce")
    add("--verbose", action="store_true", help="show the functions' logs and metrics")
    add("--json", action="store_true", help="print the report as JSON")
    add("--containers", action="store_true", help="the functions in Lambda containers (Docker, make local-image)")


def _burst_length(text: str) -> tuple[int, int]:
    shortest, _, longest = text.partition("-")
    try:
        return int(shortest), int(longest or shortest)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX, got {text!r}") from None


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "ShardCount": args.shards,
        "StateBatchSize": args.batch_size,
        "StateParallelizationFactor": args.parallelization,
        "AggregateParallelizationFactor": args.parallelization,
        "MaximumRetryAttempts": args.max_retries,
        "Combining": "true" if args.combining else None,
        "AggregateMaximumRetryAttempts": args.aggregate_max_retries,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def fault_plan(args: argparse.Namespace) -> FaultPlan:
    rates = FaultRates(
        duplicates=args.duplicates,
        out_of_order=args.out_of_order,
        lost_checkpoint=args.lost_checkpoint,
        crash_after_write=args.crash_rate,
        function_errors=args.function_errors,
        throttling=args.throttling,
        overlap=args.overlap,
        throttling_bursts=args.throttling_bursts,
        burst_length=args.burst_length,
    )
    return FaultPlan(rates, seed=args.seed, poison=args.poison)


@contextlib.contextmanager
def _local_stack(args: argparse.Namespace) -> Iterator[tuple[Deployed, Backend]]:
    """The stack, and where the functions run: in this process (on a moto server), or with ``--containers`` in
    Lambda containers (``sam local start-lambda``, against moto in a container)."""
    if not args.containers:
        with local_stack(overrides=_overrides(args)) as deployed:
            yield deployed, InProcessBackend()
        return
    containers.require_images()
    console.print("building with sam build, starting the local AWS and SAM's Lambda emulation (warm containers)...")
    containers.sam_build()
    with (
        containers.docker_aws() as aws,
        local_aws_environment(aws.host_endpoint, containers.REGION) as session,
    ):
        deployed = deploy_local(session, overrides=_overrides(args))
        with containers.sam_start_lambda(deployed, aws) as lambda_endpoint:
            yield deployed, LambdaBackend(lambda_endpoint, deployed.session.region_name or containers.REGION)


NOT_OPTIONS = ("command", "json", "verbose")  # how the run is shown, not what it runs


def run_pipeline(args: argparse.Namespace, results: ResultStore | None = None) -> int:
    """The run of ``args``, reported; published as the latest result of its command (demo, pipeline) to
    ``results`` when given (``python -m localpipe`` gives docs/results/), unless naive: a naive run shows what goes
    wrong, it measures nothing of the pipeline."""
    plan = fault_plan(args)
    sends = plan.traffic(args.messages, args.trades)
    with _local_stack(args) as (deployed, backend):
        options = PipelineOptions(faults=plan, naive=args.naive, verbose=args.verbose, backend=backend)
        pipeline = LocalPipeline(deployed, options)
        report = _run_with_progress(pipeline, sends, quiet=args.json)
        redriven = _redrive(pipeline, sends, report) if args.redrive else None
    redrive = {} if redriven is None else {"redrive": redriven[0].to_json()}
    _show(args, report, redrive)
    if results is not None and not report.naive:
        _publish(args, results, {"report": report_json(report), **redrive})
    if redriven is not None:
        return _redrive_result(*redriven, quiet=args.json)
    if report.naive:
        return 0  # a demonstration of what goes wrong; the differences are its result
    return 0 if report.exact else 1


def _publish(args: argparse.Namespace, results: ResultStore, figures: dict[str, Any]) -> None:
    ran_with = {name: value for name, value in vars(args).items() if name not in NOT_OPTIONS}
    path = results.publish(args.command, {"options": ran_with, **figures})
    if not args.json:
        console.print(f"result published as {path} (make results renders it in docs/results.md)")


def _show(args: argparse.Namespace, report: PipelineReport, redrive: dict[str, Any]) -> None:
    if args.json:
        console.print_json(json.dumps(report_json(report) | redrive, default=str))
    else:
        print_report(report, console)


def _redrive(
    pipeline: LocalPipeline, sends: Sequence[Send], before: PipelineReport
) -> tuple[RedriveReport, PipelineReport]:
    """Stop the faults, drain, redrive, drain again; the redrive's report and the run's as it then is."""
    redriven = redrive(pipeline)
    return redriven, build_report(pipeline.record(sends, before.elapsed))


def _redrive_result(redriven: RedriveReport, after: PipelineReport, *, quiet: bool) -> int:
    """After the redrive: the tables' verdicts, what it left and what to do about it, and its line, last."""
    if not quiet:
        console.print("after the redrive (faults stopped, drained, redriven, drained again):")
        for line in verdicts(after):
            console.print(line)
        for note in redriven.notes():
            console.print(f"  left: {note}", soft_wrap=True)
        console.print(redriven.last_line(), markup=False, highlight=False, soft_wrap=True)
    return 0 if redriven.exact and after.state_exact and after.aggregates_exact else 1


def _run_with_progress(pipeline: LocalPipeline, sends: Sequence[Send], *, quiet: bool) -> PipelineReport:
    columns = (BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"), TimeElapsedColumn())
    with Progress(
        TextColumn("[bold]{task.description}"), *columns, console=console, transient=True, disable=quiet
    ) as bar:
        task = bar.add_task("sending", total=len(sends), status="")
        return pipeline.run(sends, progress=_progress(bar, task, pipeline))


def _progress(bar: Progress, task: Any, pipeline: LocalPipeline) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        state = pipeline.state_mapping.pending()
        aggregate = pipeline.aggregate_mapping.pending()
        description = "sending" if done < total else "draining"
        bar.update(task, completed=done, description=description, status=f"in flight {state}+{aggregate}")

    return progress
