"""The combining lanes' domain: up to 99 partials turned into one combined partial per transaction, each partial
once; a partial delivered again (combined before) is skipped and the rest combined; conflicts back off and retry,
then fail for redelivery; what DynamoDB refuses is set aside; the reducer then applies the combined partials to the
same aggregates as it would have applied the partials."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from riskpipe.combine_service import CombineService
from riskpipe.errors import InvalidChangeError
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.partials import CombineTransaction, Partial, SetAsidePartial, combined_key
from riskpipe.reduce_service import ReduceService
from tests.unit.fakes import FakeTime, InMemoryPartialTable, ListSink


def partial(pid: str, count: int, **deltas: str) -> Partial:
    return Partial(pid, {k.replace("_", ":"): Decimal(v) for k, v in deltas.items()}, count)


def combiner(table: InMemoryPartialTable, **options) -> CombineService:
    return CombineService(table, **({"sleep": lambda _: None} | options))


def reduced(table: InMemoryPartialTable) -> dict[str, Decimal]:
    """What the reducer adds from the partials the table holds (the combined ones, and any left)."""
    ReduceService(table, sleep=lambda _: None).apply(list(table.partials.values()))
    assert not table.partials
    return {k: v for k, v in table.aggregates.items() if v}


def direct(partials: list[Partial]) -> dict[str, Decimal]:
    """What the reducer adds from the map's partials themselves (combining off)."""
    return reduced(InMemoryPartialTable(*partials))


def test_given_150_partials_when_combined_then_two_combined_partials_replace_them_in_two_transactions():
    # Given 150 partials of the map in the PartialTable
    partials = [partial(f"T{i:03d}#0", 2, Delta="1.5", **{f"PV_D{i % 3}": "-1"}) for i in range(150)]
    table = InMemoryPartialTable(*partials)
    # When a combining lane receives them
    outcome = combiner(table).apply(partials)
    # Then two transactions deleted them all and put two combined partials, named after the first of each
    assert set(table.partials) == {combined_key("T000#0"), combined_key("T099#0")}
    assert all(p.combined for p in table.partials.values())
    assert len(outcome.applied) == 150 and outcome.committed == 2 and outcome.transactions == 2
    assert outcome.messages == 300 and outcome.result_for("T042#0") == "applied"
    # and the reducer, from the two combined partials, adds exactly what it would have added from the 150
    assert (
        reduced(table)
        == direct(partials)
        == {"Delta": 225, "PV:D0": -50, "PV:D1": -50, "PV:D2": -50} | {MESSAGE_COUNT_ID: 300}
    )


def test_given_the_same_batch_delivered_again_when_combined_then_every_partial_is_skipped_and_nothing_written():
    # Given a batch combined once (and the lane crashed after its transaction, so the batch comes again)
    partials = [partial(f"T{i}#0", 1, Delta="1") for i in range(5)]
    table = InMemoryPartialTable(*partials)
    combiner(table).apply(partials)
    before = dict(table.partials)
    # When it is delivered again
    outcome = combiner(table).apply(partials)
    # Then every delete's condition fails: all skipped, no combined partial written twice
    assert outcome.skipped == {p.partial_id for p in partials} and not outcome.applied and not outcome.failed
    assert outcome.committed == 0 and outcome.result_for("T3#0") == "skipped"
    assert table.partials == before


def test_given_some_partials_combined_before_when_delivered_with_new_ones_then_the_rest_is_combined_once():
    # Given A and B combined before by another lane (an overlapping consumer), C and D new
    a, b, c, d = (partial(f"{t}#0", 1, Delta=str(n)) for n, t in enumerate("ABCD", start=1))
    table = InMemoryPartialTable(a, b, c, d)
    combiner(table).apply([a, b])
    # When a batch of all four is delivered
    outcome = combiner(table).apply([a, b, c, d])
    # Then A and B are skipped and C and D combined under C's key: every change is in exactly one combined partial
    assert outcome.skipped == {"A#0", "B#0"} and outcome.applied == {"C#0", "D#0"}
    assert set(table.partials) == {combined_key("A#0"), combined_key("C#0")}
    assert table.partials[combined_key("C#0")].deltas == {"Delta": 7}
    assert reduced(table) == direct([a, b, c, d])


def test_given_conflicts_when_combined_then_the_transaction_backs_off_and_retries():
    clock = FakeTime()
    a = partial("A#0", 1, Delta="1")
    table = InMemoryPartialTable(a, conflicts=2)
    outcome = combiner(table, sleep=clock.sleep).apply([a])
    assert outcome.applied == {"A#0"} and outcome.conflicts == 2 and outcome.transactions == 3
    assert len(clock.sleeps) == 2 and all(0 <= s <= 1 for s in clock.sleeps)


def test_given_conflicts_that_never_end_when_combined_then_the_partials_fail_for_redelivery_and_stay():
    a, b = partial("A#0", 1, Delta="1"), partial("B#0", 1, Delta="1")
    table = InMemoryPartialTable(a, b, conflicts=99)
    outcome = combiner(table, max_attempts=3).apply([a, b])
    assert set(outcome.failed) == {"A#0", "B#0"} and not outcome.applied and outcome.conflicts == 3
    assert set(table.partials) == {"A#0", "B#0"}  # nothing written: Lambda delivers them again


def test_given_an_unexpected_error_when_combined_then_the_partials_fail_and_stay_in_the_table():
    a = partial("A#0", 1, Delta="1")
    table = InMemoryPartialTable(a, fail=ConnectionError("network"))
    outcome = combiner(table).apply([a])
    assert isinstance(outcome.failed["A#0"], ConnectionError) and set(table.partials) == {"A#0"}


def test_given_partials_whose_sum_dynamodb_cannot_store_when_combined_then_each_is_combined_alone():
    # Given two partials whose sum would need 40 significant digits (each alone fits)
    big, small = partial("A#0", 1, Delta="1E+37"), partial("B#0", 1, Delta="0.01")
    table = InMemoryPartialTable(big, small)
    # When combined: the sum cannot be planned exactly
    outcome = combiner(table).apply([big, small])
    # Then each is combined alone, nothing lost, nothing rounded (the reducer meets the sum, and sets it aside there)
    assert outcome.applied == {"A#0", "B#0"} and outcome.committed == 2 and not outcome.set_aside
    assert {p.partial_id: p.deltas for p in table.partials.values()} == {
        combined_key("A#0"): {"Delta": Decimal("1E+37")},
        combined_key("B#0"): {"Delta": Decimal("0.01")},
    }


def test_given_a_partial_dynamodb_refuses_when_combined_then_it_is_set_aside_and_the_rest_combined():
    # Given three partials, the middle one refused by DynamoDB as invalid in any transaction
    a, bad, b = partial("A#0", 1, Delta="1"), partial("X#0", 1, Delta="2"), partial("B#0", 2, Delta="3")
    table, sink = InMemoryPartialTable(a, bad, b), ListSink[SetAsidePartial]()
    table.refused = {"X#0"}
    # When combined
    outcome = combiner(table, set_aside=sink).apply([a, bad, b])
    # Then the others are combined one by one, the refused one set aside with its reason, never blocking the shard
    assert outcome.applied == {"A#0", "B#0"} and not outcome.failed and outcome.result_for("X#0") == "set aside"
    assert [(r.partial_id, r.message_count) for r in sink.records] == [("X#0", 1)]
    assert "X#0" in table.partials  # it stays in the PartialTable: the reconcile's repair clears it


def test_given_no_queue_to_set_aside_when_a_partial_is_refused_then_it_fails_for_redelivery():
    bad = partial("X#0", 1, Delta="2")
    table = InMemoryPartialTable(bad)
    table.refused = {"X#0"}
    outcome = combiner(table).apply([bad])
    assert isinstance(outcome.failed["X#0"], InvalidChangeError)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Partial], list[list[int]]]:
    """Partials of the map, and the batches a combining lane's mapping delivers: every partial at least once, some
    again (lost checkpoints, crashes after the transaction, a second consumer), in any order."""
    count = draw(st.integers(1, 250))
    values = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
    partials = [
        Partial(f"T{i}#0", {f"Delta:D{draw(st.integers(0, 4))}": draw(values)}, draw(st.integers(1, 99)))
        for i in range(count)
    ]
    order = list(range(count)) + draw(st.lists(st.integers(0, count - 1), max_size=count))
    order = draw(st.permutations(order))
    cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=8)))
    batches = [order[i:j] for i, j in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    return partials, [b for b in batches if b]


@settings(max_examples=60, deadline=None)
@given(deliveries(), st.integers(2, 100))
def test_given_any_deliveries_when_combined_then_reduced_then_the_aggregates_are_exact(delivery, max_items):
    # Given partials delivered to the combining lanes in batches, some more than once
    partials, batches = delivery
    table = InMemoryPartialTable(*partials)
    # When each batch is combined (transactions of max_items items at most), then the reducer applies what is left
    for batch in batches:
        outcome = combiner(table, max_items=max_items).apply([partials[i] for i in batch])
        assert not outcome.failed
    combined = [t for t in table.transactions if isinstance(t, CombineTransaction)]
    # Then every partial was combined exactly once, and the aggregates are what the partials add up to
    assert Counter(pid for t in combined for pid in t.partial_ids) == Counter(p.partial_id for p in partials)
    assert all(t.items <= max_items for t in table.transactions)
    assert reduced(table) == direct(partials)
