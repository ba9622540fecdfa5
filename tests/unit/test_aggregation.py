"""Pre-aggregation of StateTable changes: deltas per prefix, markers per trade, transaction-sized groups."""

from decimal import Decimal

import pytest

from localpipe.stack.shapes import trade_image as image
from riskpipe.aggregation import SubBatch, TradeChange, contribution_of, items_needed, plan_sub_batches, split_repeats

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
    with pytest.raises(ValueError, match="one change of trade T"):
        plan_sub_batches([change("1", "T", image(0, "1"), event="INSERT")], ORDER, max_items=3)


def test_given_a_trade_revised_across_many_desks_in_one_batch_when_planned_then_its_chain_is_cut_in_order():
    # Given a trade moving between regions ten times in one batch (each move touches 2 regions' prefixes)
    regions = ["AMER", "EMEA", "APAC", "LATAM", "NORDICS"] * 2
    changes = [change("0", "T", image(0, "1", region=regions[0]), event="INSERT")]
    changes += [
        change(str(v), "T", image(v, str(v + 1), region=regions[v]), image(v - 1, str(v), region=regions[v - 1]))
        for v in range(1, 10)
    ]
    # When planned with room for only a few prefixes per transaction
    batches = plan_sub_batches(changes, ORDER, max_items=8)
    # Then each piece fits, pieces keep the version order, and no transaction holds the trade twice
    assert len(batches) > 1
    assert all(items_needed(b.chains, ORDER) <= 8 and len(b.chains) == 1 for b in batches)
    assert [s for b in batches for s in b.sequence_numbers] == [str(v) for v in range(10)]
    assert [b.chains[0].first_version for b in batches] == sorted(b.chains[0].first_version for b in batches)
    total = {k: sum(b.deltas().get(k, Decimal(0)) for b in batches) for k in ("Delta", "Delta:FXSpot")}
    assert total == {"Delta": Decimal(10), "Delta:FXSpot": Decimal(10)}


def test_given_the_same_record_twice_in_a_batch_when_split_then_the_second_is_a_repeat():
    first = change("1", "T", image(0, "5"), event="INSERT")
    second = change("2", "T", image(1, "6"), image(0, "5"))
    unique, repeats = split_repeats([first, second, first, change("k", "T", {"pk": "T"}, event="INSERT")])
    assert [c.sequence_number for c in unique] == ["1", "2", "k"]
    assert repeats == [first]


def test_given_deltas_that_cancel_when_aggregated_then_no_item_is_written_for_them():
    same = change("1", "T", image(1, "5"), image(0, "5"))
    assert SubBatch(plan_sub_batches([same], ORDER)[0].chains, ORDER).deltas() == {}
