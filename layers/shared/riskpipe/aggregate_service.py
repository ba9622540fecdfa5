"""The map's domain (the aggregate Lambda): turn every accepted StateTable version into a partial result exactly
once.

For each transaction-sized sub-batch (``plan_map``: its markers and ONE partial): try the transaction, each marker
conditioned on holding what the trade's first change's OldImage holds; when a marker holds something else, the
cancellation says what (no extra read): the changes it shows applied are dropped (a redelivery, a retried batch,
a crash after the write), and the rest is tried again against the marker's state (past a gap: changes the mapping
gave up, which the trade's next change so heals exactly once); when a concurrent transaction conflicts, back off
and retry, then give up and report the sub-batch's records as failures so Lambda delivers them again (the markers
make that safe).

When DynamoDB refuses a sub-batch as invalid (a sum it cannot store in the partial: more than 38 digits, out of
range), a retry would be refused again, and the shard would be blocked until its records leave the stream. Its
trades are then applied one by one; a trade's change that is refused on its own is set aside, with DynamoDB's
reason, in the aggregate stage's poison queue (its alarm says the totals need a reconcile), and the rest of
the batch is applied. The numeric domain of the StateLambda (riskpipe/numbers.py) keeps every sum valid:
this is defence in depth, for data written before it or around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from decimal import DecimalException
from typing import Protocol

from riskpipe.aggregation import SetAsideChange, SubBatch, TradeChange, split_repeats
from riskpipe.errors import AlreadyAppliedError, InvalidChangeError, TransactionConflictError
from riskpipe.outcomes import AppliedOutcome, Transactions, Writer
from riskpipe.partials import plan_map

Planner = Callable[..., list[SubBatch]]  # (changes, order, *, max_items) -> transaction-sized sub-batches


class ChangeApplier(Protocol):
    """What the handler needs of the domain: apply a batch of changes and say what became of each."""

    def apply(self, changes: Sequence[TradeChange]) -> AggregateOutcome: ...


@dataclass
class AggregateOutcome(AppliedOutcome):
    """By sequence number."""

    duplicates: set[str] = field(default_factory=set)  # already applied before: skipped
    ignored: set[str] = field(default_factory=set)  # carry no trade state (REMOVE, key-only INSERT)
    partials: int = 0  # transactions committed: each wrote one partial

    def result_for(self, sequence_number: str) -> str:
        if sequence_number in self.failed:
            raise self.failed[sequence_number]
        if sequence_number in self.applied:
            return "applied"
        if sequence_number in self.duplicates:
            return "duplicate"
        if sequence_number in self.set_aside:
            return "set aside"
        return "ignored"


@dataclass(eq=False)  # a service, compared by identity
class AggregateService(Transactions[SetAsideChange]):
    store: Writer[SubBatch]
    order: Sequence[str]
    _: KW_ONLY
    plan: Planner = plan_map

    def __post_init__(self) -> None:
        self.order = tuple(self.order)

    def apply(self, changes: Sequence[TradeChange]) -> AggregateOutcome:
        outcome = AggregateOutcome(ignored={c.sequence_number for c in changes if not c.applies})
        unique, repeats = split_repeats(changes)
        outcome.duplicates.update(c.sequence_number for c in repeats)
        failed_trades: dict[str, BaseException] = {}
        for batch in self.plan(unique, self.order, max_items=self.max_items):
            failed_trades.update(self._apply_sub_batch(_without_failed(batch, failed_trades, outcome), outcome))
        return outcome

    def _apply_sub_batch(self, batch: SubBatch, outcome: AggregateOutcome) -> dict[str, BaseException]:
        """Apply one sub-batch; return the trades that failed, with the error that made them fail."""
        conflicts = 0
        while batch.chains:
            try:
                outcome.transactions += 1
                self.store.apply(batch)
            except AlreadyAppliedError as exc:
                rest, dropped = batch.without_applied(exc.markers)
                if not dropped and rest.expected_markers() == batch.expected_markers():
                    return self._fail(batch, exc, outcome)  # the markers agree with the condition: do not loop
                batch = rest
                outcome.duplicates.update(dropped)
                continue
            except TransactionConflictError as exc:
                conflicts += 1
                outcome.conflicts += 1
                if not self.another_attempt(conflicts):
                    return self._fail(batch, exc, outcome)
                continue
            except (InvalidChangeError, DecimalException) as exc:
                return self._isolate(batch, exc, outcome)
            except Exception as exc:  # noqa: BLE001 - reported per record, retried by Lambda
                return self._fail(batch, exc, outcome)
            outcome.applied.update(batch.sequence_numbers)
            outcome.partials += 1
            return {}
        return {}

    def _isolate(self, batch: SubBatch, exc: Exception, outcome: AggregateOutcome) -> dict[str, BaseException]:
        """A sub-batch refused as invalid: apply its trades one by one, and set aside the one refused alone."""
        if len(batch.chains) > 1:
            failed: dict[str, BaseException] = {}
            for chain in batch.chains:
                failed.update(self._apply_sub_batch(SubBatch([chain], batch.order), outcome))
            return failed
        if self.set_aside is None:
            return self._fail(batch, exc, outcome)
        if isinstance(exc, DecimalException):
            reason = "a delta of this change needs more than 38 significant digits, or is out of DynamoDB's range"
        else:
            reason = f"DynamoDB refused the change as invalid: {exc}"
        try:
            for chain in batch.chains:
                for change in chain.changes:
                    self.set_aside.send(SetAsideChange.of(change, reason))
        except Exception as send_error:  # noqa: BLE001 - not set aside: reported, retried by Lambda
            return self._fail(batch, send_error, outcome)
        outcome.set_aside.update({sequence_number: reason for sequence_number in batch.sequence_numbers})
        return {}

    @staticmethod
    def _fail(batch: SubBatch, exc: BaseException, outcome: AggregateOutcome) -> dict[str, BaseException]:
        for sequence_number in batch.sequence_numbers:
            outcome.failed[sequence_number] = exc
        return {chain.trade_id: exc for chain in batch.chains}


def _without_failed(batch: SubBatch, failed_trades: dict[str, BaseException], outcome: AggregateOutcome) -> SubBatch:
    """A trade whose earlier changes failed must not move on (its marker would then hide them): its changes of this
    sub-batch fail with the same error, and the rest goes on."""
    for chain in batch.chains:
        if chain.trade_id in failed_trades:
            for change in chain.changes:
                outcome.failed[change.sequence_number] = failed_trades[chain.trade_id]
    return SubBatch([c for c in batch.chains if c.trade_id not in failed_trades], batch.order)
