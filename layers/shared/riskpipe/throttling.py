"""Throttling: DynamoDB refusing a write for throughput, and waiting it out within the invocation's time.

A hot partition refuses every write that reaches it for a while (a burst). The SDK's standard retry mode
absorbs short ones (3 attempts for the StateLambda: 3 s of backoff at most); a longer burst would fail the trade's
records, and Lambda would retry the batch from them, counting the attempt against every record after them
too: a record waiting behind throttled neighbours can use up ``MaximumRetryAttempts`` without ever having
failed itself. So a throttled write is retried here, with jittered exponential backoff, for as long as the
invocation has time left, and fails only when the time is up. A throttled write changed nothing, so trying it
again is safe.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class ThrottledError(RuntimeError):
    """DynamoDB refused the write for throughput, after the SDK's own attempts. Nothing was written."""


@dataclass(frozen=True)
class Pacing:
    """The clock, the sleep and the jitter of the backoff (real time by default; a local run compresses them)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff between attempts of a throttled write.

    ``reserve_seconds``: what the invocation keeps in hand after its last retry begins: one more call with all
    of the SDK's own attempts and backoff, and the report. A retry that would start later is not made.
    """

    base_seconds: float = 0.05
    cap_seconds: float = 2.0
    reserve_seconds: float = 20.0

    def delay(self, retry: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap_seconds, self.base_seconds * 2**retry))


class Deadline:
    """When the invocation must stop retrying: ``time_left`` seconds from now, less the backoff's reserve."""

    def __init__(self, time_left: float, backoff: Backoff, pacing: Pacing) -> None:
        self._backoff = backoff
        self._pacing = pacing
        self._ends_at = pacing.clock() + time_left - backoff.reserve_seconds

    def wait_before_retry(self, retry: int) -> bool:
        """Sleep before retry number ``retry`` (0 for the first) and return True, or return False at once when
        the retry could not start before the deadline."""
        delay = self._backoff.delay(retry, self._pacing.rng)
        if self._pacing.clock() + delay > self._ends_at:
            return False
        self._pacing.sleep(delay)
        return True
