"""``python -m localpipe redrive`` (``make redrive``): everything the stages gave up brought back, once.

The stack of ``make up`` by default, a deployed one with ``--stack NAME`` (credentials, region and endpoint from the
user's own configuration); ``--queue`` takes one queue only; ``--dry-run`` reads and decides, and writes nothing;
``--records FILE`` gives edited copies of poison records (JSON lines). Its last line says what it brought back, what
it left and why, and whether the aggregates then equal what the StateTable says; it exits 1 when they do not.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from localpipe.ministack import state
from localpipe.ministack.process import MiniStackError
from localpipe.redrive.plan import RedriveReport, edited_records
from localpipe.redrive.run import Redrive
from localpipe.redrive.stack import STAGES, RedriveStack
from localpipe.stack.deployed import describe_stack

console = Console(soft_wrap=True, highlight=False)


def redrive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="a deployed stack's name (default: the stack of make up)")
    parser.add_argument("--queue", choices=STAGES, action="append", help="only this queue (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="read and decide, write and delete nothing")
    parser.add_argument("--records", type=Path, help="edited copies of poison records (JSON lines)")


def _target(name: str | None) -> tuple[RedriveStack, Callable[[str], Any], int]:
    """The stack, its clients, and the queues' long polling (none on the local AWS)."""
    if name:
        import boto3

        # boto3's default session: the user's configuration (and the one make permissions-record records through)
        outputs, parameters = describe_stack(name, boto3.client("cloudformation"))
        return RedriveStack.from_outputs(name, outputs, parameters), lambda service: boto3.client(service), 1
    local = state.require()
    outputs, parameters = describe_stack(local.stack_name, local.client("cloudformation"))
    return RedriveStack.from_outputs(local.stack_name, outputs, parameters), local.client, 0


def print_report(report: RedriveReport, out: Console = console) -> None:
    for note in report.notes():
        out.print(f"  left: {note}")
    out.print(report.last_line())


def redrive_command(args: argparse.Namespace) -> int:
    try:
        stack, client, wait = _target(args.stack)
    except MiniStackError as exc:
        console.print(f'{exc} (or name a deployed stack: ARGS="--stack NAME")')
        return 2
    edits = edited_records(args.records.read_text()) if args.records else {}
    mode = " (dry run: nothing is written)" if args.dry_run else ""
    console.print(f"redriving stack {stack.name}{mode}")
    redrive = Redrive.on(stack, client, wait_seconds=wait, dry_run=args.dry_run, edits=edits)
    report = redrive.run(tuple(args.queue or STAGES))
    print_report(report)
    return 0 if report.exact else 1
