"""The reduce domain: partials summed into transactions of at most 100 items; a partial already applied (its
delete's condition fails) is skipped and the rest applied; conflicts back off and retry, then fail for redelivery;
a partial whose sums DynamoDB refuses as invalid is set aside and the rest applied."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from riskpipe.errors import InvalidChangeError, PartialsGoneError, TransactionConflictError
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.numbers import TOO_MANY_DIGITS
from riskpipe.partials import Partial, ReduceTransaction, SetAsidePartial
from riskpipe.reduce_service import ReduceService
from tests.unit.fakes import ListSink


class PartialTable:
    """Keeps the reduce transaction's rule in memory: all partials still there, or nothing is written."""

    def __init__(
        self, *partials: Partial, conflicts: int = 0, fail: Exception | None = None, refused: str = ""
    ) -> None:
        self.partials = {p.partial_id for p in partials}
        self.refused = refused  # a partial whose sums DynamoDB refuses to add (a number it cannot store)
        self.aggregates: dict[str, Decimal] = defaultdict(Decimal)
        self.transactions: list[ReduceTransaction] = []
        self.conflicts = conflicts
        self.fail = fail

    def apply(self, transaction: ReduceTransaction) -> None:
        assert transaction.items <= 100
        if self.conflicts:
            self.conflicts -= 1
            raise TransactionConflictError("conflict")
        if self.fail is not None:
            raise self.fail
        if self.refused in transaction.partial_ids:
            raise InvalidChangeError(TOO_MANY_DIGITS)
        gone = set(transaction.partial_ids) - self.partials
        if gone:
            raise PartialsGoneError(gone)
        for identifier, delta in transaction.deltas.items():
            self.aggregates[identifier] += delta
        self.partials -= set(transaction.partial_ids)
        self.transactions.append(transaction)


def partial(pid: str, count: int, **deltas: str) -> Partial:
    return Partial(pid, {k.replace("_", ":"): Decimal(v) for k, v in deltas.items()}, count)


def service(table: PartialTable, **options) -> ReduceService:
    return ReduceService(table, sleep=lambda _: None, **options)


def test_given_partials_when_reduced_then_their_sums_are_added_in_one_transaction_and_they_are_deleted():
    # Given two partials of the map in the PartialTable
    a, b = partial("A#0", 2, Delta="3", Delta_FXSpot="3"), partial("B#0", 1, Delta="-1", PV="4")
    table = PartialTable(a, b)
    # When the reduce applies them
    outcome = service(table).apply([a, b])
    # Then one transaction added their sums and deleted both
    assert dict(table.aggregates) == {"Delta": 2, "Delta:FXSpot": 3, "PV": 4, MESSAGE_COUNT_ID: 3}
    assert len(table.transactions) == 1 and not table.partials
    assert outcome.applied == {"A#0", "B#0"} and outcome.messages == 3 and outcome.result_for("A#0") == "applied"


def test_given_a_partial_delivered_again_when_reduced_then_it_is_skipped_and_the_others_are_applied():
    # Given partial A applied and deleted before, and B not yet
    a, b = partial("A#0", 1, Delta="1"), partial("B#0", 2, Delta="5")
    table = PartialTable(b)
    # When both are delivered (A again)
    outcome = service(table).apply([a, b])
    # Then A's delete condition fails, A is skipped, and B alone is applied
    assert outcome.skipped == {"A#0"} and outcome.applied == {"B#0"} and outcome.result_for("A#0") == "skipped"
    assert dict(table.aggregates) == {"Delta": 5, MESSAGE_COUNT_ID: 2}
    assert outcome.transactions == 2


def test_given_every_partial_already_applied_when_reduced_again_then_nothing_is_written():
    a = partial("A#0", 1, Delta="1")
    outcome = service(PartialTable()).apply([a, a])
    assert outcome.skipped == {"A#0"} and not outcome.applied and outcome.transactions == 1


def test_given_hundreds_of_partials_when_reduced_then_each_is_applied_once_within_100_items_a_transaction():
    partials = [partial(f"T{i}#0", 1, **{f"Delta_D{i % 30}": "1"}) for i in range(400)]
    table = PartialTable(*partials)
    outcome = service(table).apply(partials)
    assert len(outcome.applied) == 400 and table.aggregates[MESSAGE_COUNT_ID] == 400
    assert len(table.transactions) > 4 and not table.partials


def test_given_transaction_conflicts_when_reduced_then_it_retries_and_counts_them():
    a = partial("A#0", 1, Delta="1")
    outcome = service(PartialTable(a, conflicts=2)).apply([a])
    assert outcome.applied == {"A#0"} and outcome.conflicts == 2 and outcome.transactions == 3


def test_given_conflicts_that_never_end_when_reduced_then_the_partials_fail_for_redelivery():
    a = partial("A#0", 1, Delta="1")
    outcome = service(PartialTable(a, conflicts=99), max_attempts=3).apply([a])
    assert set(outcome.failed) == {"A#0"} and not outcome.applied and outcome.conflicts == 3


def test_given_an_unexpected_error_when_reduced_then_the_partials_fail_and_stay_in_the_table():
    a = partial("A#0", 1, Delta="1")
    table = PartialTable(a, fail=ConnectionError("network"))
    outcome = service(table).apply([a])
    assert isinstance(outcome.failed["A#0"], ConnectionError) and table.partials == {"A#0"}


def test_given_a_partial_whose_sums_dynamodb_refuses_when_reduced_then_it_is_set_aside_and_the_rest_applied():
    # Given three partials, the middle one's sums refused by DynamoDB as invalid
    a, bad, b = partial("A#0", 1, Delta="1"), partial("X#0", 1, Delta="2"), partial("B#0", 2, Delta="3")
    table, sink = PartialTable(a, bad, b, refused="X#0"), ListSink[SetAsidePartial]()
    # When the reduce applies them
    outcome = service(table, set_aside=sink).apply([a, bad, b])
    # Then the others are applied one by one, the refused one is set aside with its reason and not retried
    assert outcome.applied == {"A#0", "B#0"} and not outcome.failed and outcome.result_for("X#0") == "set aside"
    assert dict(table.aggregates) == {"Delta": 4, MESSAGE_COUNT_ID: 3}
    assert [(p.partial_id, p.deltas, p.message_count) for p in sink.records] == [("X#0", {"Delta": "2"}, 1)]
    assert sink.records[0].reason == f"DynamoDB refused the partial's sums as invalid: {TOO_MANY_DIGITS}"
    assert table.partials == {"X#0"}  # it stays in the PartialTable: a reconcile's repair clears it


def test_given_no_queue_to_set_aside_when_a_partial_is_refused_then_it_fails_for_redelivery():
    bad = partial("X#0", 1, Delta="2")
    outcome = service(PartialTable(bad, refused="X#0")).apply([bad])
    assert isinstance(outcome.failed["X#0"], InvalidChangeError)


def test_given_partials_whose_sum_has_too_many_digits_when_planned_then_the_one_that_breaks_it_is_set_aside():
    # Given two partials whose sum would need 40 significant digits (each alone fits)
    big, small = partial("A#0", 1, Delta="1E+37"), partial("B#0", 1, Delta="0.01")
    table, sink = PartialTable(big, small, refused="B#0"), ListSink[SetAsidePartial]()
    # When reduced: the sum cannot even be planned exactly
    outcome = service(table, set_aside=sink).apply([big, small])
    # Then they are applied one by one: the first goes in, the second (refused by DynamoDB) is set aside
    assert outcome.applied == {"A#0"} and set(outcome.set_aside) == {"B#0"}
    assert table.aggregates["Delta"] == Decimal("1E+37")
