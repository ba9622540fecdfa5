"""What became of a batch applied in DynamoDB transactions, by id: what the map (``aggregate_service.py``, by
sequence number) and the reduce (``reduce_service.py``, by partial id) both report to their handlers."""

from __future__ import annotations

from dataclasses import dataclass, field


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
