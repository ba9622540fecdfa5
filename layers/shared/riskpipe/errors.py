"""What a store tells the domain when a transaction did not commit: nothing was written, and why.

The data-access modules (``aggregate_store.py``, ``reduce_store.py``) raise these from DynamoDB's cancellation
reasons; the domain (``aggregate_service.py``, ``reduce_service.py``) decides what each means. They live here, in
neither, so that the domain never imports data access (the import-linter contract in pyproject.toml).
"""

from __future__ import annotations


class AlreadyAppliedError(Exception):
    """Some markers show changes of this sub-batch already applied (a redelivery). Nothing was written."""

    def __init__(self, applied_versions: dict[str, int]) -> None:
        super().__init__(f"already applied: {applied_versions}")
        self.applied_versions = applied_versions


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
