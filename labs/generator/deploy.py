"""``make workshop-generator GENERATOR=<the workshop's GeneratorLambdaPackage folder>``: the DynamoDB workshop's
generator deployed with ``sam deploy`` as a small stack of its own (``template.yaml`` here) beside the workshop-mode
stack, where it plays by itself as in the workshop: an EventBridge rule invokes it once a minute, it puts 10,000
records, checks the aggregates 30 s after its last put and scores itself in the ParameterTable.

Its code is the participant's, unchanged: the folder is copied at deploy time to ``.build/`` here (ignored by
git), which the template's CodeUri names. Against the stack of ``make up WORKSHOP=1`` (MiniStack) by default, or
against AWS with ``--aws`` (``AWS=1``: the user's own credentials and region, where the workshop-mode stack was
deployed with ``sam deploy --config-env workshop``).

``python -m labs.generator.deploy up FOLDER [--aws] | down [--aws] | rounds | idle``: ``rounds`` prints the
generator's rounds from its log and its ParameterTable; ``idle`` exits 1 while it is deployed on the local stack
(``make send``, ``make e2e`` and ``make workshop-rounds`` ask it first: a burst of ours during one of its rounds
would move the aggregates it compares before and after).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from localpipe.ministack import state
from localpipe.ministack.model import MiniStack
from localpipe.ministack.process import MiniStackError
from localpipe.ministack.sam import DEPLOY_SECONDS, sam

HERE = Path(__file__).resolve().parent
BUILD = HERE / ".build"
CODE = BUILD / "GeneratorLambdaPackage"  # the template's CodeUri
HANDLER_FILE = "lambda_function.py"
STACK_NAME = "risk-pipeline-workshop-generator"  # samconfig.toml here
FUNCTION_NAME = "GeneratorLambda"
LOG_GROUP = f"/aws/lambda/{FUNCTION_NAME}"
# What the generator prints at the end of each round, or Lambda when a round outlived the function's timeout
ROUND_LINES = ("Score for this batch", "Task timed out")
GONE = ("DELETE_COMPLETE",)


class GeneratorError(RuntimeError):
    """Something the user can act on: the message says what."""


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def stage(folder: Path, build: Path = BUILD) -> Path:
    """The participant's folder, copied as it is to the template's CodeUri under ``build`` (a fresh copy each
    deploy: whatever an earlier one left there is removed first)."""
    if not (folder / HANDLER_FILE).is_file():
        raise GeneratorError(
            f"{folder / HANDLER_FILE} not found: GENERATOR must be the workshop's GeneratorLambdaPackage folder"
        )
    code = build / CODE.relative_to(BUILD)
    shutil.rmtree(build, ignore_errors=True)
    shutil.copytree(folder, code, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return code


def workshop_stack(stack: MiniStack | None) -> MiniStack:
    """The stack of ``make up``, which must be up and in workshop mode (the generator's names exist only there)."""
    if stack is None:
        raise GeneratorError("no local stack is up: run `make up WORKSHOP=1` first (or AWS=1 to deploy to AWS)")
    if "ParameterTableName" not in stack.outputs:
        raise GeneratorError(
            "the stack of `make up` is not in workshop mode (no ParameterTable): `make down`, then `make up WORKSHOP=1`"
        )
    return stack


def deployed(stack: MiniStack) -> bool:
    """Whether the generator's stack is on the local stack's endpoint."""
    try:
        found = stack.client("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"]
    except ClientError:
        return False
    return any(s["StackStatus"] not in GONE for s in found)


SamRun = Callable[[list[str]], None]


def _sam_on_aws(arguments: list[str]) -> None:
    """SAM against AWS, with the user's own configuration (credentials, region, profile)."""
    say(f"$ sam {' '.join(arguments)}")
    command = [shutil.which("sam") or str(Path(sys.executable).with_name("sam")), *arguments]  # else the venv's
    result = subprocess.run(command, cwd=HERE, timeout=DEPLOY_SECONDS, check=False)
    if result.returncode != 0:
        raise GeneratorError(f"`sam {' '.join(arguments)}` failed (exit {result.returncode}); see its output above")


def sam_for(stack: MiniStack | None) -> SamRun:
    """SAM run in this folder (its template and samconfig.toml): against the stack's MiniStack, or AWS (None)."""
    if stack is None:
        return _sam_on_aws
    return lambda arguments: sam(arguments, stack.endpoint, cwd=HERE)


def up(folder: Path, stack: MiniStack | None, run: SamRun, build: Path = BUILD) -> int:
    """The participant's folder staged, then ``sam deploy`` of the generator's stack: beside ``stack`` (make up's,
    in workshop mode) or on AWS (None)."""
    code = stage(folder.resolve(), build)
    say(f"GeneratorLambda's code: {folder.resolve()} (copied as it is to {code})")
    run(["deploy", "--template-file", "template.yaml", "--config-env", "local" if stack else "default"])
    where = f"on {stack.endpoint}" if stack else "on AWS"
    say(
        f"GeneratorLambda plays a round every minute {where}, the first within a minute: "
        + ("`make workshop-generator-rounds` prints them; " if stack else "its log: /aws/lambda/GeneratorLambda; ")
        + f"`make workshop-generator-down{'' if stack else ' AWS=1'}` removes it"
    )
    return 0


def down(stack: MiniStack | None, run: SamRun, *, aws: bool, build: Path = BUILD) -> int:
    """The generator's stack deleted (on AWS, or beside the local stack when it is up and the generator is there),
    and its build folder."""
    if aws or (stack is not None and deployed(stack)):
        run(["delete", "--config-env", "default" if aws else "local", "--no-prompts"])
        say(f"removed the workshop's generator (stack {STACK_NAME}) {'from AWS' if aws else ''}".rstrip())
    shutil.rmtree(build, ignore_errors=True)
    return 0


def idle(stack: MiniStack | None) -> int:
    """0 when the generator is not deployed on the local stack (or none is up); 1, saying why, when it is."""
    if stack is None or not deployed(stack):
        return 0
    sys.stderr.write(
        "the workshop's generator plays on this stack (make workshop-generator): traffic of ours during one of its "
        "rounds would move the aggregates it compares before and after. `make workshop-generator-down` first.\n"
    )
    return 1


def round_lines(logs: Any) -> list[tuple[float, str]]:
    """The generator's round lines from its log (its score, or Lambda's timeout), oldest first: (epoch seconds,
    line)."""
    found: list[tuple[float, str]] = []
    arguments: dict[str, Any] = {"logGroupName": LOG_GROUP}
    while True:
        page = logs.filter_log_events(**arguments)
        found.extend(
            (event["timestamp"] / 1000, event["message"].strip())
            for event in page.get("events", [])
            if any(line in event["message"] for line in ROUND_LINES)
        )
        if not page.get("nextToken") or page["nextToken"] == arguments.get("nextToken"):
            return sorted(found)
        arguments["nextToken"] = page["nextToken"]


def rounds(stack: MiniStack) -> int:
    """The generator's rounds so far (time and its own line) and the ParameterTable's SCORE and SPECIAL_TRADES."""
    if not deployed(stack):
        raise GeneratorError("the workshop's generator is not deployed: make workshop-generator GENERATOR=...")
    try:
        lines = round_lines(stack.client("logs"))
    except ClientError:  # no log group until the first round has logged
        lines = []
    for at, line in lines:
        say(f"{time.strftime('%H:%M:%S', time.localtime(at))}  {line}")
    dynamodb = stack.client("dynamodb")
    table = stack.outputs["ParameterTableName"]
    values = {}
    for name in ("SCORE", "SPECIAL_TRADES"):
        item = dynamodb.get_item(TableName=table, Key={"parameter": {"S": name}}, ConsistentRead=True).get("Item")
        values[name] = item["value"]["N"] if item else "(not set)"
    say(f"{len(lines)} rounds ended; SCORE {values['SCORE']}, SPECIAL_TRADES {values['SPECIAL_TRADES']}")
    return 0


def main(argv: Sequence[str] | None = None, load: Callable[[], MiniStack | None] = state.load) -> int:
    """The command line; ``load`` gives the stack of ``make up`` (None when none is up)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            stack = None if args.aws else workshop_stack(load())
            return up(args.folder, stack, sam_for(stack))
        if args.command == "down":
            stack = None if args.aws else load()
            return down(stack, sam_for(stack), aws=args.aws)
        if args.command == "rounds":
            return rounds(workshop_stack(load()))
        return idle(load())
    except (GeneratorError, MiniStackError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m labs.generator.deploy", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="deploy the generator from the participant's folder")
    up_parser.add_argument("folder", type=Path, help="the workshop's GeneratorLambdaPackage folder")
    down_parser = commands.add_parser("down", help="remove the generator's stack and its build folder")
    for command in (up_parser, down_parser):
        command.add_argument("--aws", action="store_true", help="on AWS (the user's credentials and region)")
    commands.add_parser("rounds", help="the generator's rounds so far, and its SCORE")
    commands.add_parser("idle", help="exit 1 while the generator is deployed on the local stack")
    return parser


if __name__ == "__main__":
    sys.exit(main())
