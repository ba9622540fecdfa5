"""What the reduce (``reduce_service.py``) and the combining lanes (``combine_service.py``) share: applying partials
(in the ReduceTable, or the PartialTable), each exactly once, in planned transactions that delete them under
``attribute_exists``.

A transaction's effect differs (the reduce ADDs the sums to the aggregates, a combining lane puts ONE combined
partial), the rest is one shape:

* the partials are planned into transactions of at most 100 items (the subclass's ``plan``);
* when deletes' conditions fail, those partials were applied before (delivered again: a lost checkpoint, a crash
  after the transaction, an overlapping consumer): they are dropped and the rest re-planned (``replan``) and tried;
* a transaction conflict is retried with jittered backoff, then its partials are reported as failures so that
  Lambda delivers them again (the deletes make that safe);
* when DynamoDB refuses a transaction as invalid (a sum it cannot store: more than 38 digits, out of range), a retry
  would be refused again and the shard blocked: its partials are applied one by one, and one refused on its own is
  set aside, with its reason, in the aggregate stage's poison queue (its alarm says the totals need a reconcile; the
  partial stays in its table, which the reconcile's repair clears), and the rest is applied.

``apply(partials)`` is the whole of it, with no event and no Lambda in sight, so that a redrive of the partials left
in either table can call it as the handlers do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import DecimalException
from typing import Protocol

from riskpipe.errors import InvalidChangeError, PartialsGoneError, TransactionConflictError
from riskpipe.outcomes import AppliedOutcome, Transactions, Writer
from riskpipe.partials import Partial, SetAsidePartial


class PartialTransaction(Protocol):
    """A planned transaction over partials (``ReduceTransaction``, ``CombineTransaction``)."""

    @property
    def partial_ids(self) -> tuple[str, ...]: ...

    @property
    def messages(self) -> int: ...


class PartialApplier(Protocol):
    """What a handler of a partials table's stream needs of the domain: apply partials, say what became of each."""

    def apply(self, partials: Sequence[Partial]) -> PartialsOutcome: ...


@dataclass
class PartialsOutcome(AppliedOutcome):
    """By partial id."""

    skipped: set[str] = field(default_factory=set)  # applied before (delivered again): skipped
    messages: int = 0  # trade changes carried by the partials applied now
    committed: int = 0  # transactions committed (a combining lane: combined partials written)

    def result_for(self, partial_id: str) -> str:
        if partial_id in self.failed:
            raise self.failed[partial_id]
        if partial_id in self.set_aside:
            return "set aside"
        return "applied" if partial_id in self.applied else "skipped"


@dataclass(eq=False)  # a service, compared by identity
class PartialsService[T: PartialTransaction](Transactions[SetAsidePartial]):
    store: Writer[T]

    def plan(self, partials: Iterable[Partial]) -> list[T]:
        """The transactions these partials are applied in (each partial once)."""
        raise NotImplementedError

    def replan(self, planned: T, partials: Sequence[Partial], gone: set[str]) -> T | None:
        """``planned`` without the partials ``gone``; None when nothing is left."""
        raise NotImplementedError

    def apply(self, partials: Sequence[Partial]) -> PartialsOutcome:
        outcome = PartialsOutcome()
        try:
            planned = self.plan(partials)
        except DecimalException as exc:  # the sums of the batch cannot be stored: find the partial that cannot
            self._isolate([p.partial_id for p in partials], partials, exc, outcome)
            return outcome
        for transaction in planned:
            self._apply_transaction(transaction, partials, outcome)
        return outcome

    def _apply_transaction(self, planned: T, partials: Sequence[Partial], outcome: PartialsOutcome) -> None:
        transaction: T | None = planned
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
                transaction = self.replan(planned, partials, gone)
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
            outcome.messages += transaction.messages
            outcome.committed += 1
            return

    def _isolate(
        self, partial_ids: list[str], partials: Sequence[Partial], exc: Exception, outcome: PartialsOutcome
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

    def apply_alone(self, partial: Partial, outcome: PartialsOutcome) -> None:
        try:
            [transaction] = self.plan([partial])
        except DecimalException as exc:
            self._isolate([partial.partial_id], [partial], exc, outcome)
            return
        self._apply_transaction(transaction, [partial], outcome)

    @staticmethod
    def _fail(transaction: PartialTransaction, exc: BaseException, outcome: PartialsOutcome) -> None:
        for partial_id in transaction.partial_ids:
            outcome.failed[partial_id] = exc
