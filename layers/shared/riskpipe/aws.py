"""boto3 client factories. Region and endpoint come from the standard environment (AWS_REGION,
AWS_ENDPOINT_URL), never from code, so the same code talks to AWS, moto or a moto server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_sqs import SQSClient


def client_config(*, max_attempts: int = 5, max_pool_connections: int = 10) -> Config:
    # "standard" retry mode: exponential backoff with jitter, and it retries throttling errors
    # (ProvisionedThroughputExceededException, ThrottlingException) as well as transient ones.
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # attempts, first one included
        max_pool_connections=max_pool_connections,
    )


def longest_sdk_backoff(max_attempts: int) -> float:
    """The most the standard retry mode can sleep in one call that DynamoDB keeps throttling: attempt n waits
    at most min(2 ** (n - 1), 20) seconds before the next (botocore's ExponentialBackoff, full jitter)."""
    return float(sum(min(2 ** (attempt - 1), 20) for attempt in range(1, max_attempts)))


def _client(service: str, config: Config, session: boto3.Session | None) -> Any:
    """From ``session``, or else from boto3's default session, as any boto3 code makes its clients (on Lambda, the
    function's role from the environment; for ``make permissions-record``, a session that records the requests)."""
    if session is None:
        return boto3.client(service, config=config)  # type: ignore[call-overload]
    return session.client(service, config=config)  # type: ignore[call-overload]


def dynamodb_client(
    *, max_attempts: int = 5, max_pool_connections: int = 10, session: boto3.Session | None = None
) -> DynamoDBClient:
    config = client_config(max_attempts=max_attempts, max_pool_connections=max_pool_connections)
    return _client("dynamodb", config, session)


def sqs_client(*, session: boto3.Session | None = None) -> SQSClient:
    return _client("sqs", client_config(), session)


def kinesis_client(*, session: boto3.Session | None = None) -> KinesisClient:
    return _client("kinesis", client_config(), session)
