"""The capacity model checks itself: one item that every transaction touches serialises them (throughput =
1 / transaction duration); a stage that keeps up is told from one that falls behind; the chart is written."""

from dataclasses import replace
from pathlib import Path

import pytest

from capacity.__main__ import chart
from capacity.model import CURRENT, NEW, Counted, Deployment, Simulation, one_lane, share
from capacity.params import Params, parameter_table
from capacity.traffic import WorkshopTraffic

SHORT = replace(Params(), load_seconds=6.0, warm_up=2.0, drain_seconds=2.0)


@pytest.fixture(scope="module")
def traffic() -> WorkshopTraffic:
    return WorkshopTraffic(calls=100)


@pytest.mark.parametrize("duration", [0.025, 0.05])
def test_given_one_item_every_transaction_touches_when_saturated_then_its_throughput_is_one_over_the_duration(
    traffic: WorkshopTraffic, duration: float
) -> None:
    # today's design: every aggregate transaction updates message_count; 32 lanes offered far more than it takes
    params = replace(SHORT, transaction_duration=duration).raised()
    deployment = Deployment(shards=8, weight=1, state_partitions=32, marker_partitions=32, partial_partitions=1)
    result = Simulation(CURRENT, 6000, params, traffic, deployment=deployment).run()
    assert result.hot_item_transactions_per_second == pytest.approx(1 / duration, rel=0.1)
    assert result.utilisation["item message_count"] > 0.9
    assert result.binds.startswith("item message_count")
    # it falls behind: what it sustains is what became visible in the window, far below the offered 6,000
    assert not result.keeps_up
    assert result.throughput == result.visible_per_second < 0.5 * 6000


def test_given_the_new_design_when_many_lanes_map_then_no_transaction_conflicts_and_the_root_is_rarely_held(
    traffic: WorkshopTraffic,
) -> None:
    deployment = Deployment(shards=4, weight=1, state_partitions=8, marker_partitions=8, partial_partitions=2)
    result = Simulation(NEW, 3000, SHORT.raised(), traffic, deployment=deployment).run()
    assert result.conflicts_per_transaction == 0
    assert result.utilisation["reduce item message_count"] < 0.1
    # it keeps up (every message sent in the window visible, the backlog bounded): it sustains the offered load
    assert result.keeps_up
    assert result.throughput == 3000
    assert result.visible_per_second == pytest.approx(3000, rel=0.15)  # in lumps: a commit applies many partials


def test_given_one_lane_when_batches_grow_then_the_markers_stay_and_todays_aggregate_items_shrink(
    traffic: WorkshopTraffic,
) -> None:
    burst = [record for _, call in zip(range(30), traffic.calls(), strict=False) for record in call]
    small, large = (one_lane(CURRENT, burst, size, Params()).write_units_total for size in (100, 1000))
    # a trade whose changes fall in two batches takes two markers: a little more with the smaller batches
    assert large["AggregateMarkerTable"] == pytest.approx(small["AggregateMarkerTable"], rel=0.05)
    assert large["AggregateTable"] < small["AggregateTable"]
    new = one_lane(NEW, burst, 1000, Params()).write_units_total
    assert new["AggregateMarkerTable"] == large["AggregateMarkerTable"]  # the markers are the same floor
    assert new["AggregateTable"] + new["PartialTable"] < large["AggregateTable"]


def test_given_a_backlog_that_saws_but_does_not_grow_when_measured_then_the_stage_keeps_up() -> None:
    arrived = Counted([(t / 10, 100.0) for t in range(100)])  # 1,000 a second
    completed = Counted([(float(t) + 0.9, 1000.0) for t in range(9)])  # a lump every second
    assert share(arrived, completed, (2.0, 8.0)) == pytest.approx(1.0, abs=0.05)


def test_given_a_stage_that_completes_half_when_measured_then_its_share_is_a_half() -> None:
    arrived = Counted([(t / 10, 100.0) for t in range(100)])
    completed = Counted([(t / 10, 50.0) for t in range(100)])
    assert share(arrived, completed, (2.0, 8.0)) == pytest.approx(0.5, abs=0.02)


def test_given_the_parameters_when_listed_then_each_has_a_source() -> None:
    table = parameter_table(Params.from_template())
    assert {source for _, _, source, _ in table} <= {
        "AWS documentation",
        "template.yaml",
        "riskpipe.config defaults",
        "measured here",
        "assumption",
    }
    assert all(meaning for _, _, _, meaning in table)


def test_given_results_when_charted_then_a_png_is_written(traffic: WorkshopTraffic, tmp_path: Path) -> None:
    result = Simulation(NEW, 1000, SHORT, traffic).run()
    chart([result], tmp_path / "capacity.png")
    assert (tmp_path / "capacity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
