"""One recipe for a local stack: start moto (a server on 127.0.0.1, or in process), point the environment at it,
and deploy template.yaml's resources to it, with moto's workaround applied here, once, for every stack made here.

The workaround: moto numbers a table's stream records with ``len(items)`` and no lock, so concurrent writes get
duplicate sequence numbers and break its stream iterator. DynamoDB has no such limit, so the template keeps its
concurrent default; a local stack sets ``StateWriteConcurrency`` to 1, and the StateLambda's environment
(``WRITE_CONCURRENCY``) then has it write one trade at a time.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import boto3

from localpipe.stack.lambda_context import AGGREGATE_FUNCTION, STATE_FUNCTION
from localpipe.stack.readback import StackTables
from localpipe.stack.resources import Deployed, deploy
from localpipe.stack.server import local_aws_environment, moto_server
from localpipe.stack.template import Template
from riskpipe.config import AggregateSettings

MOTO_WORKAROUNDS: dict[str, Any] = {"StateWriteConcurrency": 1}


@contextlib.contextmanager
def local_aws(endpoint: str | None = None, *, in_process: bool = False) -> Iterator[boto3.Session]:
    """A session on a local AWS: the moto server at ``endpoint``, or a fresh one started (and stopped) here,
    or (``in_process``) moto inside this interpreter, fast for counting calls, never for timing."""
    with contextlib.ExitStack() as stack:
        if in_process:
            from moto import mock_aws  # here: a process that uses a server (the memory benchmark) carries no moto

            stack.enter_context(mock_aws())
        url = None if in_process else endpoint or stack.enter_context(moto_server())
        yield stack.enter_context(local_aws_environment(url))


def deploy_local(
    session: boto3.Session,
    *,
    prefix: str = "local",
    overrides: Mapping[str, Any] | None = None,
    serial_writes: bool = True,
) -> Deployed:
    """template.yaml's resources on the local AWS behind ``session``, with the template's parameters
    ``overrides``; ``serial_writes=False`` keeps the template's write concurrency (for a measure that never
    reads the table's stream)."""
    parameters = {**(MOTO_WORKAROUNDS if serial_writes else {}), **(overrides or {})}
    return deploy(Template.load(overrides=parameters), session, prefix=prefix)


@contextlib.contextmanager
def local_stack(
    endpoint: str | None = None,
    *,
    in_process: bool = False,
    prefix: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    serial_writes: bool = True,
) -> Iterator[Deployed]:
    """A fresh stack from template.yaml on a local AWS (see ``local_aws``), gone with its moto on the way out.
    On a shared server (``endpoint``) each stack has names of its own unless ``prefix`` says otherwise."""
    with local_aws(endpoint, in_process=in_process) as session:
        name = prefix or (f"s{uuid.uuid4().hex[:8]}" if endpoint else "local")
        yield deploy_local(session, prefix=name, overrides=overrides, serial_writes=serial_writes)


def function_env(deployed: Deployed, function: str = STATE_FUNCTION) -> dict[str, str]:
    """A function's environment as template.yaml gives it, with the local stack's names."""
    return deployed.function_env(deployed.template.functions()[function])


def stack_tables(deployed: Deployed) -> StackTables:
    """Where the stack keeps the truth, the totals, the markers and the partials, and how it aggregates: what a
    reconcile reads."""
    settings = AggregateSettings.from_env(function_env(deployed, AGGREGATE_FUNCTION))
    return StackTables.of(deployed.names, ",".join(settings.aggregation_order))
