"""What the map (``aggregate_service.py``) and the reduce (``reduce_service.py``) have in common: the store and the
queue they are given (ports, implemented in data access), how they retry a transaction a concurrent one cancelled,
and what became of a batch they applied in DynamoDB transactions, by id (the map's sequence numbers, the reduce's
partial ids), as they report it to their handlers."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from riskpipe.aggregation import TRANSACT_MAX_ITEMS


class Writer[T](Protocol):
    """Applies one planned transaction (a map sub-batch, a reduce transaction), or raises why nothing was written
    (``riskpipe.errors``)."""

    def apply(self, transaction: T, /) -> None: ...


class SetAside[T](Protocol):
    """The aggregate stage's poison queue: what DynamoDB refuses as invalid, with its reason."""

    def send(self, refused: T, /) -> None: ...


@dataclass
class AppliedOutcome:
    applied: set[str] = field(default_factory=set)  # applied now
    set_aside: dict[str, str] = field(default_factory=dict)  # refused by DynamoDB as invalid -> its reason
    failed: dict[str, BaseException] = field(default_factory=dict)  # reported: Lambda delivers them again
    transactions: int = 0  # transactions tried
    conflicts: int = 0  # of which cancelled by a concurrent one

    def counts(self, noun: str) -> dict[str, int]:
        """The metrics every such batch reports, ``<noun>_applied`` and the others."""
        return {
            f"{noun}_applied": len(self.applied),
            f"{noun}_failed": len(self.failed),
            f"{noun}_set_aside": len(self.set_aside),
            "transactions": self.transactions,
            "transaction_conflicts": self.conflicts,
        }


@dataclass(kw_only=True, eq=False)
class Transactions[T]:
    """The options both services take: where refused items go, and how transactions are sized and retried."""

    # Without a queue to set items aside (labs, tests of other concerns), an item DynamoDB refuses as invalid fails
    # like any other error and is retried.
    set_aside: SetAside[T] | None = None
    max_attempts: int = 5  # attempts of a transaction that concurrent ones keep cancelling, the first included
    max_items: int = TRANSACT_MAX_ITEMS
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def another_attempt(self, conflicts: int) -> bool:
        """After a transaction's ``conflicts``-th conflict: back off (full jitter, at most a second) and say try
        again, or say stop once its attempts are spent."""
        if conflicts >= self.max_attempts:
            return False
        self.sleep(self.rng.uniform(0, min(1.0, 0.02 * 2**conflicts)))
        return True
