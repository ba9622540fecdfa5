"""``python -m localpipe.ministack up | down | status | send [--workshop]``: ``make up``, ``make down`` and
``make send`` (``lifecycle.py`` starts and stops MiniStack and deploys the stack to it, ``send.py`` sends it
traffic)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rich.console import Console

from localpipe.ministack import lifecycle, state
from localpipe.ministack.process import MiniStackError
from localpipe.ministack.send import send
from results.record import ResultStore

errors = Console(stderr=True, soft_wrap=True, highlight=False)


def main(argv: Sequence[str] | None = None, results: ResultStore | None = None) -> int:
    """The command of ``argv``; send publishes its result to ``results`` when given."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            return lifecycle.up(args.port, args.hours, workshop=args.workshop)
        if args.command == "down":
            return lifecycle.down()
        if args.command == "status":
            return lifecycle.status()
        stack = state.require()
        return send(
            stack, workshop=args.workshop, calls=args.calls, seed=args.seed, timeout=args.timeout, results=results
        )
    except MiniStackError as exc:
        errors.print(f"error: {exc}")
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localpipe.ministack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start MiniStack on 127.0.0.1 and deploy the stack to it")
    up_parser.add_argument(
        "--port", type=int, default=int(os.environ.get("LOCAL_STACK_PORT") or lifecycle.DEFAULT_PORT)
    )
    up_parser.add_argument(
        "--hours", type=float, default=float(os.environ.get("LOCAL_STACK_HOURS") or lifecycle.DEFAULT_HOURS)
    )
    up_parser.add_argument(
        "--workshop",
        action="store_true",
        help="deploy with WorkshopMode=true: the workshop's names, its ParameterTable (make up WORKSHOP=1)",
    )
    commands.add_parser("down", help="stop what `up` started and remove its state")
    commands.add_parser("status", help="say whether a local stack is up")
    send_parser = commands.add_parser("send", help="the producer's traffic to the stack that is up")
    send_parser.add_argument("--workshop", action="store_true", help="the workshop's lab-2 burst (10,000 messages)")
    send_parser.add_argument("--calls", type=int, default=25, help="PutRecords calls of 40 (without --workshop)")
    send_parser.add_argument("--seed", type=int, default=7)
    send_parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for exact aggregates")
    return parser


if __name__ == "__main__":
    sys.exit(main(results=ResultStore()))
