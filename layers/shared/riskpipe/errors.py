"""What a store tells the domain when a transaction did not commit: nothing was written, and why.

The data-access modules (``aggregate_store.py``, ``reduce_store.py``) raise these from DynamoDB's cancellation
reasons; the domain (``aggregate_service.py``, ``reduce_service.py``) decides what each means. They live here, in
neither, so that the domain never imports data access (the import-linter contract in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Mapping


class AlreadyAppliedError(Exception):
    """The markers of some trades of this sub-batch do not hold what its transaction expected: changes of it were
    applied before (a redelivery), or changes before it were not (a gap: the mapping gave them up). Nothing was
    written. ``markers``: by trade, what its marker holds (``riskpipe.aggregation.AppliedState``), None for a trade
    without one; a version alone (an int) from a store that keeps no more (lab 3's)."""

    def __init__(self, markers: Mapping[str, object]) -> None:
        super().__init__(f"markers moved: {dict(markers)}")
        self.markers = markers


class PartialsGoneError(Exception):
    """These partials were applied and deleted before (delivered again). Nothing was written."""

    def __init__(self, partial_ids: set[str]) -> None:
        super().__init__(f"partials already applied: {sorted(partial_ids)}")
        self.partial_ids = partial_ids


class TransactionConflictError(Exception):
    """Another transaction touched the same items at the same time. Nothing was written; retry."""


class InvalidChangeError(Exception):
    """DynamoDB refuses the transaction as invalid (not throttling, not a conflict): a retry is refused again.
    Nothing was written. Its message is DynamoDB's (for a sum: too many digits, or out of range)."""
