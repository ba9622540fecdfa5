"""Failures injected on purpose, as the DynamoDB workshop does to show what retries do to a naive pipeline.

Off unless ``INJECTED_FAILURE_RATE`` is set (the template's ``InjectedFailureRate`` parameter, 0 by default):
an invocation then fails before doing anything, with that probability, and Lambda retries its batch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


class InjectedFailure(RuntimeError):
    """A failure injected by InjectedFailureRate: nothing was done; the batch will be delivered again."""


@dataclass
class FailureInjector:
    rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def maybe_fail(self) -> None:
        if self.rate > 0 and self.rng.random() < self.rate:
            raise InjectedFailure(f"failure injected on purpose (InjectedFailureRate={self.rate})")
