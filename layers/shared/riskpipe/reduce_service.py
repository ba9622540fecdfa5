"""The reduce's domain (the reduce Lambda, one at a time): apply every partial to the aggregates exactly once.

Partials are summed into transactions of at most 100 items (``plan_reduce``), each deleting its partials under
``attribute_exists``. When a delete's condition fails, that partial was applied before (delivered again): it is
dropped and the rest retried (``without_partials``). A transaction conflict is retried with jittered backoff,
then its partials are reported as failures so Lambda delivers them again (the deletes make that safe).

When DynamoDB refuses a transaction as invalid (a sum it cannot store: more than 38 digits, out of range), a retry
would be refused again and the reduce's one shard would be blocked. Its partials are then applied one by one; a
partial refused on its own is set aside, with the reason, in the aggregate stage's poison queue (its alarm says the
totals need a reconcile; the partial stays in the PartialTable, which the reconcile's repair clears), and the rest
is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import DecimalException
from typing import Protocol

from riskpipe.errors import InvalidChangeError, PartialsGoneError, TransactionConflictError
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.outcomes import AppliedOutcome, Transactions, Writer
from riskpipe.partials import Partial, ReduceTransaction, SetAsidePartial, plan_reduce, without_partials


class PartialApplier(Protocol):
    """What the reduce handler needs of the domain: apply partials and say what became of each."""

    def apply(self, partials: Sequence[Partial]) -> ReduceOutcome: ...


@dataclass
class ReduceOutcome(AppliedOutcome):
    """By partial id."""

    skipped: set[str] = field(default_factory=set)  # applied before (delivered again): skipped
    messages: int = 0  # message_count applied now

    def result_for(self, partial_id: str) -> str:
        if partial_id in self.failed:
            raise self.failed[partial_id]
        if partial_id in self.set_aside:
            return "set aside"
        return "applied" if partial_id in self.applied else "skipped"


@dataclass(eq=False)  # a service, compared by identity
class ReduceService(Transactions[SetAsidePartial]):
    store: Writer[ReduceTransaction]

    def apply(self, partials: Sequence[Partial]) -> ReduceOutcome:
        outcome = ReduceOutcome()
        try:
            planned = plan_reduce(partials, max_items=self.max_items)
        except DecimalException as exc:  # the sums of the batch cannot be stored: find the partial that cannot
            self._isolate([p.partial_id for p in partials], partials, exc, outcome)
            return outcome
        for transaction in planned:
            self._apply_transaction(transaction, partials, outcome)
        return outcome

    def _apply_transaction(
        self, planned: ReduceTransaction, partials: Sequence[Partial], outcome: ReduceOutcome
    ) -> None:
        transaction: ReduceTransaction | None = planned
        gone: set[str] = set()
        conflicts = 0
        while transaction is not None:
            try:
                outcome.transactions += 1
                self.store.apply(transaction)
            except PartialsGoneError as exc:
                if exc.partial_ids <= gone:  # the condition disagrees with what we dropped: do not loop, report
                    self._fail(transaction, exc, outcome)
                    return
                gone |= exc.partial_ids
                outcome.skipped |= exc.partial_ids
                transaction = without_partials(planned, partials, gone)
                continue
            except TransactionConflictError as exc:
                conflicts += 1
                outcome.conflicts += 1
                if not self.another_attempt(conflicts):
                    self._fail(transaction, exc, outcome)
                    return
                continue
            except (InvalidChangeError, DecimalException) as exc:
                self._isolate(list(transaction.partial_ids), partials, exc, outcome)
                return
            except Exception as exc:  # noqa: BLE001 - reported per record, retried by Lambda
                self._fail(transaction, exc, outcome)
                return
            outcome.applied.update(transaction.partial_ids)
            outcome.messages += int(transaction.deltas.get(MESSAGE_COUNT_ID, 0))
            return

    def _isolate(
        self, partial_ids: list[str], partials: Sequence[Partial], exc: Exception, outcome: ReduceOutcome
    ) -> None:
        """Partials refused together as invalid: apply them one by one, and set aside the one refused alone."""
        by_id = {p.partial_id: p for p in partials}
        if len(set(partial_ids)) > 1:
            for partial_id in dict.fromkeys(partial_ids):
                self.apply_alone(by_id[partial_id], outcome)
            return
        partial = by_id[partial_ids[0]]
        if self.set_aside is None:
            outcome.failed[partial.partial_id] = exc
            return
        if isinstance(exc, DecimalException):
            reason = "a sum of this partial needs more than 38 significant digits, or is out of DynamoDB's range"
        else:
            reason = f"DynamoDB refused the partial's sums as invalid: {exc}"
        try:
            self.set_aside.send(SetAsidePartial.of(partial, reason))
        except Exception as send_error:  # noqa: BLE001 - not set aside: reported, retried by Lambda
            outcome.failed[partial.partial_id] = send_error
            return
        outcome.set_aside[partial.partial_id] = reason

    def apply_alone(self, partial: Partial, outcome: ReduceOutcome) -> None:
        try:
            [transaction] = plan_reduce([partial], max_items=self.max_items)
        except DecimalException as exc:
            self._isolate([partial.partial_id], [partial], exc, outcome)
            return
        self._apply_transaction(transaction, [partial], outcome)

    @staticmethod
    def _fail(transaction: ReduceTransaction, exc: BaseException, outcome: ReduceOutcome) -> None:
        for partial_id in transaction.partial_ids:
            outcome.failed[partial_id] = exc
