"""Command line of the local pipeline: ``python -m localpipe demo|pipeline|invoke|watch|reconcile|redrive``.

Each command lives in its own module: ``run.py`` (demo, pipeline), ``invoke.py``, ``watch.py``, ``reconcile.py``
and ``redrive.py``; this one only parses the arguments and hands over."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from localpipe.commands.invoke import invoke
from localpipe.commands.reconcile import reconcile_command
from localpipe.commands.redrive import redrive_arguments, redrive_command
from localpipe.commands.run import pipeline_arguments, run_pipeline
from localpipe.commands.watch import watch
from localpipe.faults.scenario import DEMO_DEFAULTS
from results.record import ResultStore


def _watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="a deployed stack's name (default: the stack of make up, when up)")
    parser.add_argument("--local-pipeline", action="store_true", help="run the local pipeline even when up")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--trades", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)


def _reconcile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack",
        help="a deployed stack's name (default: the stack of make up when it is up, else a local run with drops)",
    )
    parser.add_argument("--repair", action="store_true", help="rewrite the aggregates and the markers")
    parser.add_argument("--local-pipeline", action="store_true", help="a local run even when make up is up")
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--trades", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--function-errors", type=float, default=0.1, help="local run: error rate")


def main(argv: Sequence[str] | None = None, results: ResultStore | None = None) -> int:
    """The command of ``argv``; demo and pipeline publish their result to ``results`` when given."""
    parser = argparse.ArgumentParser(prog="python -m localpipe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    pipeline_arguments(commands.add_parser("demo", help="the workshop's scenario, checked end to end"), DEMO_DEFAULTS)
    pipeline_arguments(commands.add_parser("pipeline", help="the local pipeline with your own options"), {})
    invoke_parser = commands.add_parser("invoke", help="invoke one function with an event file, no Docker")
    invoke_parser.add_argument("function", help="state, aggregate, combine, reduce, producer (or a logical id)")
    invoke_parser.add_argument("event", help="path of an event JSON file, e.g. events/state/kinesis-batch.json")
    invoke_parser.add_argument("--repeat", type=int, default=1, help="deliver the event this many times")
    _watch_arguments(commands.add_parser("watch", help="live view of the aggregates"))
    _reconcile_arguments(commands.add_parser("reconcile", help="recompute the aggregates from the StateTable"))
    redrive_arguments(commands.add_parser("redrive", help="bring back what the stages gave up, once"))
    args = parser.parse_args(argv)
    if args.command == "reconcile":
        return reconcile_command(args)
    if args.command == "redrive":
        return redrive_command(args)
    if args.command in ("demo", "pipeline"):
        return run_pipeline(args, results)
    if args.command == "invoke":
        return invoke(args)
    return watch(args)


if __name__ == "__main__":
    sys.exit(main())
