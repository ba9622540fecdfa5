"""Fault injection, each fault a rate drawn from one seeded generator, so that a run is reproducible.

Function side (wrapping the real handler): random function errors before it runs, and a crash after its
writes and before it returns. SDK side: DynamoDB throttling answered before the request leaves botocore,
so the SDK's own retry mode handles it as it would a real one. Platform side: see ``esm.DeliveryFaults``.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.retries import quota, standard

from localpipe.server import shared_loader_session


class InjectedFunctionError(RuntimeError):
    """The function failed before doing anything (the workshop's random failure)."""


class InjectedCrash(RuntimeError):
    """The function did its work, then died before returning (timeout, out of memory, a lost instance)."""


@dataclass(frozen=True)
class FaultRates:
    duplicates: float = 0.0  # the producer sends a record twice
    out_of_order: float = 0.0  # a second producer: versions of a trade overtake each other
    lost_checkpoint: float = 0.0  # a batch delivered again after it succeeded
    crash_after_write: float = 0.0
    function_errors: float = 0.0
    throttling: float = 0.0  # per DynamoDB write call
    overlap: float = 0.0  # a second consumer on the same shard (resharding overlap)

    def __post_init__(self) -> None:
        for name, rate in self.__dict__.items():
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"fault rate {name} must be in [0, 1), got {rate}")


def wrap_function(
    handler: Callable[[dict, Any], Any], rates: FaultRates, rng: random.Random, context: Any
) -> Callable[[dict], Any]:
    """The invoker the mapping calls: the real handler, with function-side faults around it."""

    def invoke(event: dict) -> Any:
        if rng.random() < rates.function_errors:
            raise InjectedFunctionError("injected function error")
        response = handler(event, context)
        if rng.random() < rates.crash_after_write:
            raise InjectedCrash("injected crash after the function's writes, before it returned")
        return response

    return invoke


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Any:
        yield self._payload


def throttling_response(request: Any, code: str) -> AWSResponse:
    """What DynamoDB answers when a partition or the table is over its limit (HTTP 400 with this error code)."""
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "Rate exceeded"}).encode()
    return AWSResponse(request.url, 400, {"x-amzn-ErrorType": code}, _Body(body))  # type: ignore[arg-type]


def compress_retry_backoff(client: Any, scale: float) -> None:
    """Make the SDK's standard retry mode wait ``scale`` times as long between attempts, nothing else.

    botocore's standard handler is rebuilt from botocore's own parts (the same retry conditions, attempt
    limit, retry quota and throttling detection); only the jitter draw is scaled. A local run thereby keeps
    the SDK's decisions while not sleeping a real second on each throttled write.
    """
    service = client.meta.service_model.service_id.hyphenize()
    max_attempts = client.meta.config.retries.get("total_max_attempts", standard.DEFAULT_MAX_ATTEMPTS)
    adapter = standard.RetryEventAdapter()
    detector = standard.ThrottlingErrorDetector(adapter)
    retry_quota = standard.RetryQuotaChecker(quota.RetryQuota(), detector)
    handler = standard.RetryHandler(
        retry_policy=standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=max_attempts),
            retry_backoff=standard.ExponentialBackoff(
                random=lambda: scale * random.random(), service_name=service, throttling_detector=detector
            ),
        ),
        retry_event_adapter=adapter,
        retry_quota=retry_quota,  # type: ignore[arg-type]  # the stubs name the quota, botocore passes its checker
        service_name=service,
    )
    events = client.meta.events
    events.unregister(f"needs-retry.{service}", unique_id=f"retry-config-{service}")
    events.register(f"needs-retry.{service}", handler.needs_retry, unique_id=f"retry-config-{service}")
    events.register(f"after-call.{service}", retry_quota.release_retry_quota)


class FaultSession(boto3.Session):
    """The session the local functions make their clients with: DynamoDB throttling injected at a rate, and
    the SDK's backoff compressed by ``backoff_scale`` (1.0 keeps real time)."""

    def __init__(self, region: str, *, throttling: float, rng: random.Random, backoff_scale: float) -> None:
        super().__init__(botocore_session=shared_loader_session(), region_name=region)
        self._backoff_scale = backoff_scale
        inject_throttling(self, throttling, rng, ("UpdateItem", "TransactWriteItems"))

    def client(self, *args: Any, **kwargs: Any) -> Any:
        client = super().client(*args, **kwargs)
        if self._backoff_scale != 1.0 and client.meta.config.retries.get("mode") == "standard":
            compress_retry_backoff(client, self._backoff_scale)
        return client


def inject_throttling(session: boto3.Session, rate: float, rng: random.Random, operations: tuple[str, ...]) -> None:
    """Answer a share of these DynamoDB calls with ProvisionedThroughputExceededException or ThrottlingException."""
    if rate <= 0:
        return
    lock = threading.Lock()  # the StateLambda writes concurrently; keep the draws reproducible per call

    def before_send(request: Any, **_: Any) -> AWSResponse | None:
        with lock:
            throttle, kind = rng.random() < rate, rng.random() < 0.5
        if not throttle:
            return None
        return throttling_response(request, "ProvisionedThroughputExceededException" if kind else "ThrottlingException")

    for operation in operations:
        session.events.register_first(f"before-send.dynamodb.{operation}", before_send)  # type: ignore[arg-type]
