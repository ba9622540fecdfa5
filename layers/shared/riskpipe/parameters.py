"""The workshop's ParameterTable (key ``parameter``, attribute ``value``), read in workshop mode: its generator
writes the failure percentages there (``FAILURE_STATE_LAMBDA_PCT`` and the others) when it moves to lab 2."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import boto3

from riskpipe.aws import dynamodb_client
from riskpipe.chaos import FailureInjector, WorkshopFailureRate
from riskpipe.config import StreamFunctionSettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ParameterTable:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table_name = table_name
        self._client = client

    def number(self, name: str) -> Decimal | None:
        """The parameter's value, or None while the workshop has not set it."""
        item = self._client.get_item(TableName=self._table_name, Key={"parameter": {"S": name}}).get("Item")
        if item is None or "N" not in item.get("value", {}):
            return None
        return Decimal(item["value"]["N"])


def failure_injector(
    parameter_table_name: str,
    failure_parameters: Sequence[str],
    injected_failure_rate: float,
    *,
    session: boto3.Session | None = None,
) -> FailureInjector:
    """The failures a function injects on purpose: the workshop's percentages in workshop mode (a ParameterTable
    is named), else the template's InjectedFailureRate."""
    if not parameter_table_name:
        return FailureInjector(injected_failure_rate)
    table = ParameterTable(parameter_table_name, dynamodb_client(session=session))
    return FailureInjector(rate_source=WorkshopFailureRate(table.number, tuple(failure_parameters)))


def injected_failures(settings: StreamFunctionSettings) -> FailureInjector:
    """The failures a stream consumer injects on purpose, from its settings."""
    return failure_injector(settings.parameter_table_name, settings.failure_parameters, settings.injected_failure_rate)
