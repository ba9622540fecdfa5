"""A deployed stack (on AWS, or a local AWS through AWS_ENDPOINT_URL) as CloudFormation describes it."""

from __future__ import annotations

from typing import Any

import boto3


def describe_stack(name: str, cloudformation: Any = None) -> tuple[dict[str, str], dict[str, str]]:
    """A deployed stack's outputs and parameters, by key."""
    client = cloudformation or boto3.client("cloudformation")
    stack = client.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return outputs, parameters
