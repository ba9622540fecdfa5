"""A deployed stack, named by RISK_PIPELINE_STACK (``sam deploy`` first; credentials from the usual chain).
Without one, every e2e test is skipped with the reason."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

STACK_VARIABLE = "RISK_PIPELINE_STACK"


@pytest.fixture(scope="session")
def deployed() -> dict[str, Any]:
    stack = os.environ.get(STACK_VARIABLE)
    if not stack:
        pytest.skip(f"no deployed stack: set {STACK_VARIABLE} to a stack made by `sam deploy` to run the e2e tests")
    if os.environ.get("AWS_ENDPOINT_URL"):
        pytest.skip("AWS_ENDPOINT_URL points at a local endpoint: the e2e tests are for a stack on AWS")
    session = boto3.Session()
    try:
        outputs = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    except (BotoCoreError, ClientError) as exc:
        pytest.skip(f"stack {stack!r} cannot be read with these credentials: {exc}")
    return {"session": session, **{o["OutputKey"]: o["OutputValue"] for o in outputs}}
