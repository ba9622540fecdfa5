"""Build the real handlers against a local stack, and read its tables and queues back."""

from __future__ import annotations

from typing import Any

import boto3

from functions.state import app as state_app
from localpipe.stack.local import function_env
from localpipe.stack.readback import queue_bodies, read_state
from localpipe.stack.resources import Deployed
from riskpipe.config import StateSettings
from riskpipe.models import RiskMessage


def state_handler(stack: Deployed, session: boto3.Session | None = None, **settings: Any) -> Any:
    env = {**function_env(stack), **{k.upper(): str(v) for k, v in settings.items()}}
    return state_app.build_handler(state_app.build_service(StateSettings.from_env(env), session=session))


def state_items(stack: Deployed) -> dict[str, RiskMessage]:
    """Every trade in the StateTable, as stored."""
    return read_state(stack.client("dynamodb"), stack.names["StateTable"])


def queue_messages(stack: Deployed, logical_id: str) -> list[dict[str, Any]]:
    return queue_bodies(stack.client("sqs"), stack.names[logical_id])
