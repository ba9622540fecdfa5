"""Shared fixtures: AWS is moto (in process), resources come from template.yaml, handlers are the real ones."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localpipe.pipeline import LocalContext
from localpipe.resources import Deployed, deploy
from localpipe.server import local_aws_environment
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


@pytest.fixture
def context() -> LocalContext:
    return LocalContext(function_name="test")
