"""Pre-aggregation of StateTable changes: deltas per prefix, markers per trade, transaction-sized groups."""

from decimal import Decimal

import pytest

from localpipe.stack.shapes import trade_image as image
from riskpipe.aggregation import (
    AppliedState,
    Contribution,
    SubBatch,
    TradeChange,
    contribution_of,
    items_needed,
    plan_sub_batches,
    split_repeats,
)

ORDER = ("RiskType", "TradeDesk", "Region")


def change(seq: str, trade: str, new: dict | None, old: dict | None = None, event: str = "MODIFY") -> TradeChange:
    return TradeChange.from_images(seq, event, {"pk": trade}, new, old)


def test_given_a_new_trade_when_aggregated_then_its_value_is_added_to_every_prefix():
    [batch] = plan_sub_batches([change("1", "T", image(0, "10.5"), event="INSERT")], ORDER)
    assert batch.deltas() == {
        "Delta": Decimal("10.5"),
        "Delta:FXSpot": Decimal("10.5"),
        "Delta:FXSpot:AMER": Decimal("10.5"),
    }
    assert batch.message_count == 1


def test_given_an_update_that_moves_desk_when_aggregated_then_the_contribution_moves():
    moved = change("1", "T", image(1, "7", desk="FXOptions"), image(0, "5"))
    [batch] = plan_sub_batches([moved], ORDER)
    assert batch.deltas() == {
        "Delta": Decimal("2"),
        "Delta:FXSpot": Decimal("-5"),
        "Delta:FXSpot:AMER": Decimal("-5"),
        "Delta:FXOptions": Decimal("7"),
        "Delta:FXOptions:AMER": Decimal("7"),
    }


def test_given_a_key_only_insert_when_aggregated_then_it_contributes_nothing():
    key_only = change("1", "T", {"pk": "T"}, event="INSERT")
    assert not key_only.applies
    assert plan_sub_batches([key_only], ORDER) == []
    assert contribution_of({"pk": "T"}) is None


def test_given_a_remove_when_aggregated_then_it_is_ignored():
    assert not change("1", "T", None, image(0, "5"), event="REMOVE").applies


def test_given_a_chain_of_changes_when_some_are_already_applied_then_only_the_rest_remain():
    changes = [
        change("1", "T", image(0, "5"), event="INSERT"),
        change("2", "T", image(1, "8"), image(0, "5")),
        change("3", "U", image(0, "1"), event="INSERT"),
    ]
    [batch] = plan_sub_batches(changes, ORDER)
    rest, dropped = batch.without_applied({"T": 0})
    assert dropped == ["1"]
    assert rest.sequence_numbers == ["2", "3"]
    assert rest.deltas()["Delta"] == Decimal("3") + Decimal("1")


def test_given_more_trades_than_a_transaction_holds_when_planned_then_consecutive_sub_batches_fit():
    changes = [change(str(i), f"T{i}", image(0, "1"), event="INSERT") for i in range(250)]
    batches = plan_sub_batches(changes, ORDER, max_items=100)
    assert all(items_needed(b.chains, ORDER) <= 100 for b in batches)
    assert [s for b in batches for s in b.sequence_numbers] == [str(i) for i in range(250)]
    assert len(batches) == 3


def test_given_a_single_change_that_exceeds_the_limit_when_planned_then_it_is_refused():
    with pytest.raises(ValueError, match="the changes of trade T need more than 3"):
        plan_sub_batches([change("1", "T", image(0, "1"), event="INSERT")], ORDER, max_items=3)


def test_given_a_trade_revised_across_many_regions_in_one_batch_when_planned_then_its_delta_is_newest_less_base():
    # Given a trade moving between regions ten times in one batch, from a version the aggregates hold
    regions = ["AMER", "EMEA", "APAC", "LATAM", "NORDICS"] * 3
    changes = [
        change(str(v), "T", image(v, str(v + 1), region=regions[v]), image(v - 1, str(v), region=regions[v - 1]))
        for v in range(1, 11)
    ]
    # When planned with room for a marker, one move's prefixes and message_count
    [batch] = plan_sub_batches(changes, ORDER, max_items=6)
    # Then its delta is its newest contribution (v10, 11 in AMER) less its base's (v0, 1 in AMER): only the
    # prefixes of those two are touched, whatever the regions it passed through
    assert items_needed(batch.chains, ORDER) == 5
    assert batch.deltas() == {"Delta": Decimal(10), "Delta:FXSpot": Decimal(10), "Delta:FXSpot:AMER": Decimal(10)}
    assert batch.message_count == 10


def test_given_the_same_record_twice_in_a_batch_when_split_then_the_second_is_a_repeat():
    first = change("1", "T", image(0, "5"), event="INSERT")
    second = change("2", "T", image(1, "6"), image(0, "5"))
    unique, repeats = split_repeats([first, second, first, change("k", "T", {"pk": "T"}, event="INSERT")])
    assert [c.sequence_number for c in unique] == ["1", "2", "k"]
    assert repeats == [first]


def test_given_deltas_that_cancel_when_aggregated_then_no_item_is_written_for_them():
    same = change("1", "T", image(1, "5"), image(0, "5"))
    assert SubBatch(plan_sub_batches([same], ORDER)[0].chains, ORDER).deltas() == {}


def counted(version: int, value: str, accepted: int, **where: str) -> dict:
    """A StateTable image that carries its AcceptedVersions, as the StateLambda writes it."""
    return {**image(version, value, **where), "AcceptedVersions": Decimal(accepted)}


def test_given_a_chain_when_rebased_on_a_marker_behind_its_oldimage_then_its_delta_and_count_span_the_gap():
    # Given the change v2 -> v3 of a trade whose marker says v1 was applied (v1 -> v2 was given up)
    v3 = change("3", "T", counted(3, "30", 3, region="APAC"), counted(2, "20", 2, region="EMEA"))
    [batch] = plan_sub_batches([v3], ORDER)
    assert batch.expected_markers() == {"T": 2}  # the common case: the OldImage, nothing read
    marker = AppliedState(
        1, Contribution(Decimal(10), {"RiskType": "Delta", "Region": "AMER", "TradeDesk": "FXSpot"}), 1
    )
    # When the transaction's cancellation returns that marker
    rest, dropped = batch.without_applied({"T": marker})
    # Then nothing is dropped, the transaction now expects v1, and the delta runs from v1 (AMER) to v3 (APAC)
    assert dropped == [] and rest.expected_markers() == {"T": 1}
    assert rest.deltas() == {
        "Delta": Decimal(20),
        "Delta:FXSpot": Decimal(20),
        "Delta:FXSpot:AMER": Decimal(-10),
        "Delta:FXSpot:APAC": Decimal(30),
    }
    assert rest.message_count == 2  # v2 and v3: the given-up version counts too


def test_given_a_chain_when_the_marker_holds_a_version_of_it_then_those_are_dropped_and_the_rest_applies_on_it():
    changes = [
        change("1", "T", counted(1, "11", 2), counted(0, "10", 1)),
        change("2", "T", counted(2, "12", 3), counted(1, "11", 2)),
        change("3", "T", counted(3, "13", 4), counted(2, "12", 3)),
    ]
    [batch] = plan_sub_batches(changes, ORDER)
    rest, dropped = batch.without_applied({"T": changes[1].new_state})
    assert dropped == ["1", "2"] and rest.sequence_numbers == ["3"]
    assert rest.deltas()["Delta"] == Decimal(1) and rest.message_count == 1
    everything, dropped = batch.without_applied({"T": AppliedState(7)})  # a version alone: a newer one applied
    assert dropped == ["1", "2", "3"] and everything.chains == []


def test_given_no_marker_when_a_chain_is_rebased_then_it_applies_against_nothing():
    # The INSERT v0 was given up: the marker was never written, so v1 adds its whole value and both versions
    v1 = change("1", "T", counted(1, "7", 2), counted(0, "5", 1))
    [batch] = plan_sub_batches([v1], ORDER)
    rest, dropped = batch.without_applied({"T": None})
    assert dropped == [] and rest.expected_markers() == {"T": None}
    assert rest.deltas()["Delta"] == Decimal(7) and rest.message_count == 2


def test_given_a_marker_without_its_state_when_a_chain_is_rebased_on_it_then_the_oldimage_stands_for_it():
    # A marker that keeps its version only (lab 3's store, or a stack from before markers kept their state)
    v2 = change("2", "T", counted(2, "9", 3), counted(1, "8", 2))
    [batch] = plan_sub_batches([v2], ORDER)
    rest, _ = batch.without_applied({"T": 0})
    assert rest.expected_markers() == {"T": 0}
    assert rest.deltas()["Delta"] == Decimal(1) and rest.message_count == 1


def test_given_a_marker_behind_the_statetable_when_a_gap_change_is_made_then_it_runs_from_the_marker_to_the_item():
    marker = change("1", "T", counted(1, "4", 2), counted(0, "3", 1)).new_state
    gap = TradeChange.gap("T", marker, counted(5, "9", 6, region="EMEA"))
    assert gap.sequence_number == "gap:T:5" and gap.timestamp is None
    [batch] = plan_sub_batches([gap], ORDER)
    assert batch.expected_markers() == {"T": 1}
    assert batch.deltas()["Delta"] == Decimal(5) and batch.message_count == 4
    assert TradeChange.gap("T", None, counted(0, "1", 1)).old_state is None
    with pytest.raises(ValueError, match="keeps its version only"):
        TradeChange.gap("T", AppliedState(1), counted(5, "9", 6))
