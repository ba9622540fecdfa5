"""The SDK side of the fault plan (``faults.FaultPlan``): DynamoDB throttling answered before the request leaves
botocore, so the SDK's own retry mode handles it as it would a real one: independent throttles (each write call on
its own), and bursts (a hot partition refusing every write for a while, as DynamoDB does); and the SDK's backoff
compressed, so that a local run does not sleep a real second on each throttled write.
"""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.retries import quota, standard

from localpipe.faults.rates import FaultSwitch
from localpipe.stack.server import shared_loader_session


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Any:
        yield self._payload


def throttling_response(request: Any, code: str) -> AWSResponse:
    """What DynamoDB answers when a partition or the table is over its limit (HTTP 400 with this error code)."""
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "Rate exceeded"}).encode()
    return AWSResponse(request.url, 400, {"x-amzn-ErrorType": code}, _Body(body))  # type: ignore[arg-type]


class CompressedTime:
    """Time as the local functions see it: the backoff they wait, each wait counted in full but only ``scale`` of
    it slept, and the jitter of every wait drawn from ``rng``.

    ``now()`` is the time waited so far (calls take no time on this clock), so that a deadline (Lambda's
    remaining time) passes as it would have, had the waits been real, and the same seed makes the same run
    whatever the machine's load. Every thread shares it: exact with one writer at a time, as the local
    StateLambda writes against moto.
    """

    def __init__(self, scale: float, rng: random.Random) -> None:
        self.scale = scale
        self.rng = rng
        self._waited = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._waited

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)
        self.waited(seconds)

    def waited(self, seconds: float) -> None:
        with self._lock:
            self._waited += seconds


def compress_retry_backoff(client: Any, clock: CompressedTime) -> None:
    """Make the SDK's standard retry mode wait ``clock.scale`` times as long between attempts, nothing else.

    botocore's standard handler is rebuilt from botocore's own parts (the same retry conditions, attempt
    limit, retry quota and throttling detection); only the jitter draw is scaled (and drawn from the clock's
    generator), and the whole wait is counted on ``clock``. A local run thereby keeps the SDK's decisions
    while not sleeping a real second on each throttled write.
    """
    scale = clock.scale
    service = client.meta.service_model.service_id.hyphenize()
    max_attempts = client.meta.config.retries.get("total_max_attempts", standard.DEFAULT_MAX_ATTEMPTS)
    adapter = standard.RetryEventAdapter()
    detector = standard.ThrottlingErrorDetector(adapter)
    retry_quota = standard.RetryQuotaChecker(quota.RetryQuota(), detector)
    handler = standard.RetryHandler(
        retry_policy=standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=max_attempts),
            retry_backoff=standard.ExponentialBackoff(
                random=lambda: scale * clock.rng.random(), service_name=service, throttling_detector=detector
            ),
        ),
        retry_event_adapter=adapter,
        retry_quota=retry_quota,  # type: ignore[arg-type]  # the stubs name the quota, botocore passes its checker
        service_name=service,
    )

    def needs_retry(**kwargs: Any) -> float | None:
        delay: float | None = handler.needs_retry(**kwargs)
        if delay:
            clock.waited(delay / scale)  # botocore sleeps the scaled delay itself
        return delay

    events = client.meta.events
    events.unregister(f"needs-retry.{service}", unique_id=f"retry-config-{service}")
    events.register(f"needs-retry.{service}", needs_retry, unique_id=f"retry-config-{service}")
    events.register(f"after-call.{service}", retry_quota.release_retry_quota)


class FaultSession(boto3.Session):
    """The session the local functions make their clients with: DynamoDB throttling injected (independent
    throttles and bursts), and the SDK's backoff compressed by ``backoff_scale`` (1.0 keeps real time) and
    counted on the clock ``time``, which the functions' own backoff uses too; its jitter drawn from ``jitter``."""

    def __init__(
        self,
        region: str,
        *,
        throttling: float,
        rng: random.Random,
        backoff_scale: float,
        bursts: float = 0.0,
        burst_length: tuple[int, int] = (3, 12),
        jitter: random.Random | None = None,
        switch: FaultSwitch | None = None,
    ) -> None:
        super().__init__(botocore_session=shared_loader_session(), region_name=region)
        self.time = CompressedTime(backoff_scale, jitter or random.Random())
        self.throttling = ThrottlingPlan(
            rng, rate=throttling, bursts=bursts, burst_length=burst_length, switch=switch or FaultSwitch()
        )
        inject_throttling(self, self.throttling, ("UpdateItem", "TransactWriteItems"))

    def client(self, *args: Any, **kwargs: Any) -> Any:
        client = super().client(*args, **kwargs)
        if client.meta.config.retries.get("mode") == "standard":
            compress_retry_backoff(client, self.time)
        return client


class ThrottlingPlan:
    """Which DynamoDB write calls are refused: drawn call by call from one seeded generator.

    * independent throttles: each call refused at ``rate``, on its own;
    * bursts: a call starts one at ``bursts``, and then the partition refuses every call that reaches it until
      the burst's refusals (``burst_length``, drawn uniformly) are spent. A burst is counted in refusals, not
      in seconds, so that a run stays reproducible whatever the machine's speed: with one writer at a time (as
      the local StateLambda writes), it is a window in time as long as those attempts and their backoff take.

    Each table is a partition of its own (a burst on one operation does not refuse the other). With both rates
    at 0 nothing is drawn, and with bursts at 0 the draws are the same as before bursts existed.
    """

    def __init__(
        self,
        rng: random.Random,
        *,
        rate: float,
        bursts: float = 0.0,
        burst_length: tuple[int, int] = (3, 12),
        switch: FaultSwitch | None = None,
    ) -> None:
        self._rng = rng
        self._switch = switch or FaultSwitch()
        self.rate = rate
        self.bursts = bursts
        self.burst_length = burst_length
        self._left: dict[str, int] = {}  # refusals left in the burst under way, per operation
        self._lock = threading.Lock()  # the StateLambda writes concurrently; keep the draws reproducible per call
        self.refused = 0
        self.bursts_started = 0

    @property
    def active(self) -> bool:
        return self.rate > 0 or self.bursts > 0

    def refuse(self, operation: str) -> str | None:
        """The error code this call is refused with, or None when it goes through."""
        with self._lock:
            rng = self._rng
            if not self._switch.on:
                return None
            if self._left.get(operation, 0) > 0:
                self._left[operation] -= 1
                kind = rng.random() < 0.5
            elif self.bursts > 0 and rng.random() < self.bursts:
                self.bursts_started += 1
                self._left[operation] = rng.randint(*self.burst_length) - 1
                kind = rng.random() < 0.5
            elif self.rate > 0:
                throttle, kind = rng.random() < self.rate, rng.random() < 0.5
                if not throttle:
                    return None
            else:
                return None
            self.refused += 1
            return "ProvisionedThroughputExceededException" if kind else "ThrottlingException"


def inject_throttling(session: boto3.Session, plan: ThrottlingPlan, operations: tuple[str, ...]) -> None:
    """Answer the DynamoDB calls that ``plan`` refuses with ProvisionedThroughputExceededException or
    ThrottlingException, before the request leaves botocore."""
    if not plan.active:
        return

    def before_send(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        code = plan.refuse(event_name.rsplit(".", 1)[-1])
        return None if code is None else throttling_response(request, code)

    for operation in operations:
        session.events.register_first(f"before-send.dynamodb.{operation}", before_send)  # type: ignore[arg-type]
