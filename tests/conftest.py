"""Shared fixtures: AWS is moto (in process), resources come from template.yaml, handlers are the real ones."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localpipe.pipeline import LocalContext
from localpipe.resources import Deployed, deploy
from localpipe.server import local_aws_environment, moto_server
from localpipe.template import Template

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# The functions' metrics are printed as EMF on stdout; keep test output readable.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws(), local_aws_environment(None) as session:
        yield session


@pytest.fixture
def stack(aws: boto3.Session) -> Deployed:
    return deploy(Template.load(), aws)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server on 127.0.0.1 for the session (started and stopped here), for tests that need real
    HTTP between the SDK and AWS: retries, throttling answered before the request leaves botocore."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def server_stack(moto_endpoint: str) -> Iterator[Deployed]:
    """The template's resources on the moto server, under a prefix of their own."""
    with local_aws_environment(moto_endpoint) as session:
        yield deploy(Template.load(), session, prefix=f"t{uuid.uuid4().hex[:8]}")


@pytest.fixture
def context() -> LocalContext:
    return LocalContext(function_name="test")
