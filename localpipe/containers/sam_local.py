"""``make sam-local-check`` and ``make sam-local-invoke``: the sample events of ``events/`` through ``sam local
invoke`` in Lambda containers (``emulation.py`` starts them, and the local AWS they reach).

``python -m localpipe.containers.sam_local check``: every sample event, checked against ``events/expected.json``;
``invoke FUNCTION EVENT``: one of them, shown.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from localpipe.containers.emulation import (
    BUILT_TEMPLATE,
    REGION,
    DockerAws,
    DockerUnavailable,
    docker_aws,
    env_vars,
    sam,
    sam_build,
)
from localpipe.containers.samples import Expectation, load_expectations, mismatches, observe, seed
from localpipe.stack.lambda_context import FUNCTION_ALIASES
from localpipe.stack.local import deploy_local
from localpipe.stack.resources import Deployed
from localpipe.stack.server import local_aws_environment


@dataclass
class Invocation:
    expectation: Expectation
    response: Any
    problems: list[str]
    seconds: float
    logs: str


def invoke(
    function: str, event: Path, deployed: Deployed, aws: DockerAws, built: Path = BUILT_TEMPLATE
) -> tuple[Any, str]:
    """``sam local invoke`` one function with one event in SAM's Lambda container; (response, its logs)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(env_vars(deployed, aws), handle)
    try:
        result = sam(
            "local", "invoke", function,
            "--event", str(event),
            "--template", str(built),
            "--env-vars", handle.name,
            "--parameter-overrides", f"LocalEndpointUrl={aws.network_endpoint}",
            "--docker-network", aws.network,
            "--skip-pull-image",
            timeout=300,
            aws=aws,
        )  # fmt: skip
    finally:
        os.unlink(handle.name)
    lines = [line for line in result.stdout.strip().splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"sam local invoke {function} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(lines[-1]), result.stderr


def check_sample(expectation: Expectation, aws: DockerAws, session: boto3.Session, prefix: str) -> Invocation:
    """One sample on a stack of its own (its own names, so that samples can run side by side)."""
    started = time.monotonic()
    deployed = deploy_local(session, prefix=prefix)
    seed(deployed, expectation)
    response, logs = invoke(expectation.function, expectation.path, deployed, aws)
    problems = mismatches(expectation, observe(deployed, response))
    return Invocation(expectation, response, problems, time.monotonic() - started, logs)


def check_all(names: Sequence[str] | None = None, workers: int = 3) -> list[Invocation]:
    expectations = load_expectations()
    chosen = [expectations[n] for n in (names or sorted(expectations))]
    sam_build()
    # The environment points boto3 at the local AWS once, before any thread starts (it is process-wide).
    with docker_aws() as aws, local_aws_environment(aws.host_endpoint, REGION) as session:
        # The first invocation makes SAM build its emulation image with the layer; the others reuse it.
        first = check_sample(chosen[0], aws, session, prefix="s0")
        with ThreadPoolExecutor(max_workers=workers) as pool:
            rest = list(
                pool.map(lambda pair: check_sample(pair[1], aws, session, f"s{pair[0]}"), enumerate(chosen[1:], 1))
            )
    return [first, *rest]


# ---------------------------------------------------------------- command line


def _check(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        results = check_all(args.events or None)
    except DockerUnavailable as exc:
        print(f"sam-local-check: {exc}")  # noqa: T201
        return 2
    failed = 0
    for result in results:
        status = "ok" if not result.problems else "NOT as expected"
        print(f"{result.expectation.function:18} {result.expectation.event:36} {result.seconds:5.1f} s  {status}")  # noqa: T201
        for problem in result.problems:
            print(f"    {problem}")  # noqa: T201
        failed += bool(result.problems)
    print(  # noqa: T201
        f"{len(results) - failed} of {len(results)} sample events as expected through sam local invoke "
        f"in Lambda containers ({time.monotonic() - started:.0f} s)"
    )
    return 1 if failed else 0


def _invoke(args: argparse.Namespace) -> int:
    function = FUNCTION_ALIASES.get(args.function, args.function)
    event = Path(args.event).resolve()
    expectations = {e.path.resolve(): e for e in load_expectations().values()}
    sam_build()
    with docker_aws() as aws, local_aws_environment(aws.host_endpoint, REGION) as session:
        deployed = deploy_local(session)
        seed(deployed, expectations.get(event))
        response, logs = invoke(function, event, deployed, aws)
        print(logs.rstrip())  # noqa: T201
        print(json.dumps(response, indent=2, default=str))  # noqa: T201
        observed = observe(deployed, response)
        print(  # noqa: T201
            f"StateTable: {len(observed.state)} items; poison queue: {len(observed.poison_reasons)} messages; "
            f"stream: {observed.stream_records} records; partials: {len(observed.partials)} items; "
            f"aggregates: {len(observed.aggregates)} items"
        )
        expectation = expectations.get(event)
        if expectation is None or expectation.function != function:
            return 0
        problems = mismatches(expectation, observed)
        print("as expected (events/expected.json)" if not problems else "NOT as expected: " + "; ".join(problems))  # noqa: T201
        return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localpipe.containers.sam_local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="every sample event through sam local invoke, checked")
    check.add_argument("events", nargs="*", help="sample events (paths under events/); all by default")
    one = commands.add_parser("invoke", help="one function with one event through sam local invoke")
    one.add_argument("function", help="state, aggregate, producer, game, or a logical id (StateFunction, ...)")
    one.add_argument("event", help="path of the event file")
    args = parser.parse_args(argv)
    return _check(args) if args.command == "check" else _invoke(args)


if __name__ == "__main__":
    sys.exit(main())
