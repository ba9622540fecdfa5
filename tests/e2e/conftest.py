"""The stack the e2e tests run against: the one named by RISK_PIPELINE_STACK (``sam deploy`` first; credentials,
region and endpoint from the user's own configuration), else the local stack of ``make up`` when it is up. Without
either, every e2e test is skipped with the reason; a stack that is named but cannot be read fails them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from localpipe.ministack import state as ministack

STACK_VARIABLE = "RISK_PIPELINE_STACK"


@dataclass(frozen=True)
class DeployedStack:
    name: str
    outputs: dict[str, str]
    client: Callable[[str], Any]
    local: bool  # on the local AWS of make up (MiniStack)

    def __getitem__(self, output: str) -> str:
        return self.outputs[output]


@pytest.fixture(scope="session")
def deployed() -> DeployedStack:
    stack = os.environ.get(STACK_VARIABLE)
    if stack:
        session = boto3.Session()
        try:
            described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        except (BotoCoreError, ClientError) as exc:  # a stack was named: not reading it is a failure, not a skip
            pytest.fail(
                f"{STACK_VARIABLE}={stack!r} names a stack that cannot be read (region {session.region_name}): {exc}"
            )
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        return DeployedStack(stack, outputs, session.client, local=False)
    local = ministack.load()
    if local is None:
        pytest.skip(f"no stack: run `make up` (a local AWS), or set {STACK_VARIABLE} to a stack made by `sam deploy`")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("the e2e tests share one stack's aggregates: run them in one process, with `make e2e`")
    return DeployedStack(local.stack_name, local.outputs, local.client, local=True)
