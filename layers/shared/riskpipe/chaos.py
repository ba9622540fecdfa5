"""Failures injected on purpose, as the DynamoDB workshop does to show what retries do to a naive pipeline.

Off unless ``INJECTED_FAILURE_RATE`` is set (the template's ``InjectedFailureRate`` parameter, 0 by default):
an invocation then fails before doing anything, with that probability, and Lambda retries its batch. In the
template's workshop mode the rate comes from the workshop's own failure percentages instead, read through
``WorkshopFailureRate`` (cached a few seconds, so a change the generator makes is seen within them).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal


class InjectedFailure(RuntimeError):
    """A failure injected by InjectedFailureRate: nothing was done; the batch will be delivered again."""


@dataclass
class FailureInjector:
    rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    rate_source: Callable[[], float] | None = None  # read on every invocation, in place of ``rate``

    def maybe_fail(self) -> None:
        rate = self.rate if self.rate_source is None else self.rate_source()
        if rate > 0 and self.rng.random() < rate:
            raise InjectedFailure(f"failure injected on purpose (rate {rate})")


@dataclass
class WorkshopFailureRate:
    """The chance that an invocation fails, from the workshop's percentages: a function that stands for several
    of the workshop's stages fails when any of them would, ``1 - prod(1 - pct / 100)``. A percentage not set yet
    counts as 0."""

    read: Callable[[str], Decimal | None]  # a percentage by its parameter name (the ParameterTable)
    names: Sequence[str]
    ttl_seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _cached: tuple[float, float] | None = field(default=None, init=False)  # (read at, rate)

    def __call__(self) -> float:
        now = self.clock()
        if self._cached is None or now - self._cached[0] >= self.ttl_seconds:
            percents = [min(max(float(self.read(name) or 0), 0.0), 100.0) for name in self.names]
            self._cached = (now, 1.0 - math.prod(1.0 - p / 100.0 for p in percents))
        return self._cached[1]
