"""Planning of the Map/Reduce aggregate stage: markers plus one partial per map transaction, partials summed and
deleted under condition by the reduce, every transaction within 100 items."""

from decimal import Decimal
from functools import partial

import pytest

from localpipe.stack.shapes import trade_image
from riskpipe.aggregation import TradeChange, plan_sub_batches
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.partials import (
    Partial,
    Timestamps,
    end_to_end_latency,
    map_items,
    partial_of,
    plan_map,
    plan_reduce,
    without_partials,
)

ORDER = ("RiskType", "TradeDesk", "Region")


image = partial(trade_image, stamped=False)  # the StateTable image of trade T, without its Timestamp


def change(seq: int, trade: str, version: int, value: str, old: dict | None = None, **where: str) -> TradeChange:
    return TradeChange.from_images(str(seq), "MODIFY", {"pk": trade}, image(version, value, **where), old)


def test_given_a_sub_batch_when_mapped_then_its_partial_holds_the_deltas_and_count_of_todays_plan():
    changes = [
        change(1, "A", 0, "10"),
        change(2, "B", 0, "5", desk="FXOptions"),
        change(3, "A", 1, "12", old=image(0, "10")),
    ]
    [batch] = plan_map(changes, ORDER)
    [today] = plan_sub_batches(changes, ORDER)
    partial = partial_of(batch)
    assert partial.deltas == today.deltas()
    assert partial.message_count == today.message_count == 3
    assert [c.trade_id for c in batch.chains] == ["A", "B"]  # one marker per trade, as today
    assert map_items(batch) == 3
    assert partial.partial_id == "A#0"


def test_given_many_trades_over_every_desk_when_mapped_then_each_transaction_has_99_markers_and_one_partial():
    risks, desks, regions = ("Delta", "PV"), ("FXSpot", "FXOptions"), ("EMEA", "APAC", "AMER")
    changes = [
        change(i, f"T{i:04d}", 0, "1", risk=risks[i % 2], desk=desks[i // 2 % 2], region=regions[i % 3])
        for i in range(350)
    ]
    batches = plan_map(changes, ORDER)
    assert [len(b.chains) for b in batches] == [99, 99, 99, 53]
    assert all(map_items(b) <= 100 for b in batches)
    # today's plan needs an item per prefix too, so it cuts the same changes into more transactions
    assert len(plan_sub_batches(changes, ORDER)) > len(batches)


def test_given_a_trade_revised_in_many_hierarchies_when_mapped_then_it_stays_one_marker():
    risks, desks, regions = ("Delta", "PV"), ("FXSpot", "FXOptions"), ("EMEA", "APAC", "AMER")
    changes = []
    previous = None
    for version in range(12):
        where = {"risk": risks[version % 2], "desk": desks[version // 2 % 2], "region": regions[version % 3]}
        changes.append(change(version, "T", version, str(version + 1), old=previous, **where))
        previous = image(version, str(version + 1), **where)
    [batch] = plan_map(changes, ORDER)
    assert map_items(batch) == 2 and partial_of(batch).message_count == 12


def test_given_changes_already_applied_when_replanned_then_the_partial_key_moves_to_the_first_change_left():
    changes = [change(1, "A", 0, "10"), change(2, "A", 1, "11", old=image(0, "10")), change(3, "B", 0, "1")]
    [batch] = plan_map(changes, ORDER)
    rest, dropped = batch.without_applied({"A": 0})
    assert dropped == ["1"]
    assert partial_of(rest).partial_id == "A#1" != partial_of(batch).partial_id
    assert partial_of(rest).message_count == 2


def partial(pid: str, count: int, **deltas: str) -> Partial:
    return Partial(pid, {k.replace("_", ":"): Decimal(v) for k, v in deltas.items()}, count)


def test_given_partials_when_reduced_then_deltas_are_summed_per_identifier_and_each_partial_deleted():
    partials = [partial("A#0", 2, Delta="3", Delta_FXSpot="3"), partial("B#0", 1, Delta="-1", PV="4")]
    [txn] = plan_reduce(partials)
    assert txn.deltas == {"Delta": Decimal(2), "Delta:FXSpot": Decimal(3), "PV": Decimal(4), MESSAGE_COUNT_ID: 3}
    assert txn.partial_ids == ("A#0", "B#0")
    assert txn.items == 6


def test_given_partials_that_cancel_when_reduced_then_zero_deltas_are_left_out_but_the_count_is_kept():
    [txn] = plan_reduce([partial("A#0", 1, Delta="3"), partial("B#0", 1, Delta="-3")])
    assert txn.deltas == {MESSAGE_COUNT_ID: Decimal(2)}


def test_given_hundreds_of_partials_when_reduced_then_no_transaction_exceeds_100_items_and_none_is_lost():
    identifiers = [f"Delta:D{i}" for i in range(18)]
    partials = [partial(f"T{i}#0", 1, **{identifiers[i % 18].replace(":", "_"): "1"}) for i in range(500)]
    transactions = plan_reduce(partials)
    assert all(t.items <= 100 for t in transactions)
    assert [pid for t in transactions for pid in t.partial_ids] == [p.partial_id for p in partials]
    assert sum(t.deltas[MESSAGE_COUNT_ID] for t in transactions) == 500
    assert len(transactions) == 7  # 19 identifiers leave room for 81 deletes a transaction


def test_given_a_partial_delivered_twice_in_one_batch_when_reduced_then_it_is_planned_once():
    [txn] = plan_reduce([partial("A#0", 1, Delta="1"), partial("A#0", 1, Delta="1")])
    assert txn.partial_ids == ("A#0",) and txn.deltas["Delta"] == 1


def test_given_a_partial_already_applied_when_the_delete_condition_fails_then_the_rest_is_replanned():
    partials = [partial("A#0", 1, Delta="1"), partial("B#0", 2, Delta="5")]
    [txn] = plan_reduce(partials)
    rest = without_partials(txn, partials, ["A#0"])
    assert rest is not None and rest.partial_ids == ("B#0",) and rest.deltas == {"Delta": 5, MESSAGE_COUNT_ID: 2}
    assert without_partials(txn, partials, ["A#0", "B#0"]) is None


def test_given_a_partial_delivered_twice_when_another_one_is_dropped_then_the_rest_is_still_counted_once():
    partials = [partial("A#0", 1, Delta="1"), partial("B#0", 2, Delta="5"), partial("A#0", 1, Delta="1")]
    [txn] = plan_reduce(partials)
    rest = without_partials(txn, partials, ["B#0"])
    assert rest is not None and rest.partial_ids == ("A#0",) and rest.deltas == {"Delta": 1, MESSAGE_COUNT_ID: 1}


def test_given_a_stream_image_when_read_then_the_partial_is_rebuilt():
    image_ = {"pk": "A#0", "Deltas": {"Delta": Decimal("1.5")}, "MessageCount": Decimal(3)}
    assert Partial.from_image(image_) == Partial("A#0", {"Delta": Decimal("1.5")}, 3)


def test_given_no_room_for_a_partial_when_planning_a_map_then_it_is_refused():
    with pytest.raises(ValueError):
        plan_map([change(1, "A", 0, "1")], ORDER, max_items=1)


def test_given_changes_with_timestamps_when_mapped_then_the_partial_carries_their_earliest_latest_and_sum():
    # Given three changes whose messages were stamped at 100, 101 and 104
    changes = [change(1, "A", 0, "1"), change(2, "B", 0, "1"), change(3, "A", 1, "2", old=image(0, "1"))]
    stamped = [
        TradeChange.from_images(
            c.sequence_number, "MODIFY", {"pk": c.trade_id}, {**image(v, "1"), "Timestamp": t}, None
        )
        for c, v, t in zip(changes, (0, 0, 1), (Decimal(100), Decimal(101), Decimal(104)), strict=True)
    ]
    # When they are mapped
    [batch] = plan_map(stamped, ORDER)
    partial = partial_of(batch)
    # Then the partial carries what the reduce needs for end-to-end latency, and the stream image gives it back
    assert partial.timestamps == Timestamps(Decimal(100), Decimal(104), Decimal(305), 3)
    image_ = {"pk": "A#0", "Deltas": {}, "MessageCount": 3, "TimestampMin": 100, "TimestampMax": 104}
    assert Partial.from_image({**image_, "TimestampSum": 305, "TimestampCount": 3}).timestamps == partial.timestamps
    # and two such partials applied at 110 are 10 s old at most, 110 - 815 / 8 on average
    other = Partial("B#0", {}, 5, Timestamps(Decimal(102), Decimal(103), Decimal(510), 5))
    largest, mean = end_to_end_latency([partial, other], now=110.0) or (0.0, 0.0)
    assert largest == 10.0 and mean == 110 - 815 / 8
    assert end_to_end_latency([Partial("C#0", {}, 1)], now=1.0) is None
