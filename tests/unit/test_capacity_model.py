"""The capacity model checks itself: "sustained" at a 1% resolution; no figure above a hand bound; one item that every
transaction touches serialises them; the deployment is the template's (per-mapping parallelization, MemorySize,
MaxValue); CPU scaled to memory; the one reducer's pollers; the combining level fed by the planning function."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from capacity.bounds import TrafficCounts, bounds, lowest
from capacity.deployment import Deployment, DeploymentError, Design
from capacity.measure import KEEPS_UP, sustained
from capacity.model import Simulation, one_lane
from capacity.params import ASSUMED, SOURCES, TEMPLATE, Params, deployed_template, parameter_table, raw_template
from capacity.traffic import WorkshopTraffic
from riskpipe.partials import Partial, plan_combine

SHORT = replace(Params.from_template(), warm_up=4.0, steady_seconds=10.0, drain_seconds=8.0)


@pytest.fixture(scope="module")
def traffic() -> WorkshopTraffic:
    return WorkshopTraffic(calls=100)


@pytest.fixture(scope="module")
def counts(traffic: WorkshopTraffic) -> TrafficCounts:
    return TrafficCounts.of(traffic, calls=100)


# ---------------------------------------------------------------- sustained, at a 1% resolution
def synthetic(delivered: float, *, rate: float = 1000.0, lump: float = 0.5, seconds: float = 80.0) -> tuple:
    """A pipeline sent ``rate`` messages a second for ``seconds``, whose aggregates take ``delivered`` of that rate,
    in lumps every ``lump`` seconds (a commit makes many messages visible at once), 3 s behind."""
    sent = [i / rate for i in range(int(rate * seconds))]
    visible = [(3.0 + k * lump, rate * lump * delivered) for k in range(int(seconds / lump))]
    return sent, visible


@pytest.mark.parametrize("lump", [0.25, 0.5, 1.3])
def test_given_a_pipeline_delivering_95_percent_when_measured_then_it_falls_behind_at_what_it_delivers(lump: float):
    sent, visible = synthetic(0.95, lump=lump)
    rate, offered, keeps_up = sustained(sent, visible, (20.0, 80.0), 1)
    assert not keeps_up
    assert rate == pytest.approx(950, rel=0.005)  # measured to well within 1%
    assert offered == pytest.approx(1000)


@pytest.mark.parametrize("lump", [0.25, 0.5, 1.3])
def test_given_a_pipeline_delivering_99_5_percent_when_measured_then_it_keeps_up(lump: float):
    sent, visible = synthetic(0.995, lump=lump)
    rate, _, keeps_up = sustained(sent, visible, (20.0, 80.0), 1)
    assert keeps_up
    assert rate == pytest.approx(995, rel=0.005)


def test_given_a_pipeline_just_below_the_resolution_when_measured_then_it_falls_behind():
    sent, visible = synthetic(KEEPS_UP - 0.003)
    assert not sustained(sent, visible, (20.0, 80.0), 1)[2]


def test_given_each_slice_message_standing_for_the_fleets_when_measured_then_the_sent_rate_is_the_fleets():
    sent, visible = synthetic(1.0, rate=100.0)
    _, offered, keeps_up = sustained(sent, [(t, n * 8) for t, n in visible], (20.0, 80.0), 8)
    assert offered == pytest.approx(800) and keeps_up


# ---------------------------------------------------------------- hand bounds
def test_given_the_default_quotas_when_50000_are_offered_then_the_new_design_stays_below_the_marker_tables_bound(
    traffic: WorkshopTraffic, counts: TrafficCounts
) -> None:
    params = SHORT.pessimistic()
    result = Simulation(Design.MAP_REDUCE, 50_000, params, traffic).run()
    found = bounds(Design.MAP_REDUCE, params, Deployment.for_load(50_000, params, traffic.record_bytes), counts)
    bound = lowest(found)
    # the bound by hand: the table's write quota over 2 write units a trade (a marker is a transactional write)
    assert bound.name == "marker_table_quota"
    assert bound.messages_per_second == pytest.approx(40_000 / 2 * counts.messages / counts.trades)
    assert not result.keeps_up
    assert result.visible_per_second <= bound.messages_per_second * 1.01
    assert "marker_table_quota" in result.limits


@pytest.mark.parametrize("duration", [0.025, 0.05])
def test_given_one_item_every_transaction_touches_when_saturated_then_it_serialises_them_below_its_bound(
    traffic: WorkshopTraffic, counts: TrafficCounts, duration: float
) -> None:
    # the one-transaction design: every transaction updates message_count; 32 lanes offered far more than it takes
    params = replace(SHORT, transaction_duration=duration).raised()
    deployment = Deployment(
        shards=8,
        weight=1,
        warm=dict.fromkeys(("StateTable", "AggregateMarkerTable", "PartialTable"), 32_000),
        state_partitions=32,
    )
    result = Simulation(Design.ONE_TRANSACTION, 4000, params, traffic, deployment=deployment).run()
    assert result.hot_item_transactions_per_second == pytest.approx(1 / duration, rel=0.15)
    assert "item_message_count" in result.limits
    bound = next(
        b for b in bounds(Design.ONE_TRANSACTION, params, deployment, counts) if b.name == "item_message_count"
    )
    assert bound.messages_per_second == pytest.approx(counts.most_trades * counts.messages / counts.trades / duration)
    assert result.visible_per_second <= bound.messages_per_second
    assert not result.keeps_up


# ---------------------------------------------------------------- the deployment is the template's
def test_given_the_template_when_read_then_each_mapping_has_its_own_parallelization_and_each_function_its_memory():
    params = Params.from_template(deployed_template())
    template = deployed_template()
    assert params.state_parallelization == template.event_source("StateFunction").parallelization_factor
    assert params.aggregate_parallelization == template.event_source("AggregateFunction").parallelization_factor
    resources = raw_template()["Resources"]
    assert params.reduce_memory == resources["ReduceFunction"]["Properties"]["MemorySize"] == params.vcpu_memory
    assert params.reduce_reserved == 1


def test_given_the_parameters_when_listed_then_each_has_a_source_and_a_meaning():
    table = parameter_table(Params.from_template())
    assert {source for _, _, source, _ in table} <= set(SOURCES)
    assert all(meaning for _, _, _, meaning in table)
    assert {name for name, _, source, _ in table if source == TEMPLATE} >= {"state_parallelization", "state_memory"}
    assert {name for name, _, source, _ in table if source == ASSUMED} >= {"throttle_backoff", "stream_propagation"}


def test_given_a_load_that_needs_more_shards_than_the_template_allows_when_deployed_then_it_is_refused():
    params = Params.from_template().raised()
    maximum = int(raw_template()["Parameters"]["ShardCount"]["MaxValue"])
    Deployment.for_load(1_000_000, params, 212.0).check_template()  # the target fits
    too_many = Deployment.for_load(maximum * 1000 * 2, params, 212.0)
    with pytest.raises(DeploymentError, match="ShardCount"):
        too_many.check_template()


def test_given_a_load_when_deployed_then_each_table_is_warmed_within_its_quota_and_the_shards_within_the_accounts():
    params = Params.from_template()
    deployment = Deployment.for_load(1_000_000, params, 212.0)
    assert deployment.shards <= params.shard_quota
    assert all(params.new_table_wcu <= units <= params.table_wcu_quota for units in deployment.warm.values())
    assert deployment.state_partitions % deployment.weight == 0


# ---------------------------------------------------------------- Lambda: CPU scaled to MemorySize
def test_given_less_memory_when_the_state_lanes_run_then_they_are_busier_by_the_cpu_share(traffic):
    full = Simulation(Design.MAP_REDUCE, 3000, SHORT.raised(), traffic).run()
    small = Simulation(Design.MAP_REDUCE, 3000, replace(SHORT, state_memory=512).raised(), traffic).run()
    assert small.busy["state_lanes"] > 2 * full.busy["state_lanes"]
    assert SHORT.cpu_share(512) == pytest.approx(512 / 1769)


# ---------------------------------------------------------------- the one reducer, as AWS runs its mapping
def test_given_several_stream_shards_when_the_one_reducer_is_busy_then_their_pollers_are_throttled(traffic):
    # the alternative: the map's partials spread over a table keyed by partial, the reducer on its every shard
    result = Simulation(Design.MAP_REDUCE_SPREAD, 30_000, SHORT.pessimistic().raised(), traffic).run()
    assert result.deployment["reducer stream shards"] > 1
    assert result.throttles.get("reduce", 0) > 0  # a poller per shard, one reducer: they take turns
    assert result.conflicts_per_transaction == 0  # map lanes share no item; the reducer runs alone


def test_given_the_reduce_table_when_the_one_reducer_reads_it_then_one_poller_is_never_throttled(traffic):
    # the template: every partial in the ReduceTable under one partition key, so one partition and one stream shard
    result = Simulation(Design.MAP_REDUCE, 10_000, SHORT.pessimistic().raised(), traffic).run()
    assert result.deployment["reducer stream shards"] == 1
    assert result.throttles.get("reduce", 0) == 0
    assert result.keeps_up


def test_given_the_reduce_table_past_its_partition_when_the_map_writes_there_then_that_partition_binds(traffic):
    # Combining off: the map's partials into the ReduceTable's one partition (1,000 write units a second), put and
    # deleted: past about 250 partials a second it throttles, whatever the quotas
    result = Simulation(Design.MAP_REDUCE, 50_000, SHORT.pessimistic().raised(), traffic).run()
    assert not result.keeps_up
    assert result.binds == "reduce_table_partition", result.binds_detail


# ---------------------------------------------------------------- the combining level, fed by its planning function
def test_given_the_combining_level_when_fed_a_planning_function_then_the_reducer_sees_what_it_plans(traffic):
    planned: list[int] = []

    def pairs(partials: list[Partial]) -> list:
        planned.append(len(partials))
        return plan_combine(partials, max_items=3)  # two partials a combined partial

    burst = [record for _, call in zip(range(60), traffic.calls(), strict=False) for record in call]
    by_pairs = one_lane(Design.MAP_COMBINE_REDUCE, burst, 100, SHORT, traffic, pairs)
    whole = one_lane(Design.MAP_COMBINE_REDUCE, burst, 100, SHORT, traffic, plan_combine)
    assert planned  # the level planned with the function it was given
    # the same partials of the map, combined two by two: more combined partials, so more puts and deletes in the
    # ReduceTable, and the same in the PartialTable (the map's partials put, and deleted by the lanes)
    assert by_pairs.write_units_by_table["ReduceTable"] > whole.write_units_by_table["ReduceTable"]
    assert by_pairs.write_units_by_table["PartialTable"] == whole.write_units_by_table["PartialTable"]
    assert by_pairs.write_units_by_table["AggregateMarkerTable"] == whole.write_units_by_table["AggregateMarkerTable"]


def test_given_the_new_designs_when_a_moderate_load_is_offered_then_they_keep_up_without_conflicts(traffic):
    filled = replace(SHORT, warm_up=10.0)  # the pipeline fills first: its latency is several seconds
    for design in (Design.MAP_REDUCE, Design.MAP_COMBINE_REDUCE):
        result = Simulation(design, 3000, filled.raised(), traffic, plan_combine=plan_combine).run()
        assert result.keeps_up and result.throughput == 3000, design
        assert result.conflicts_per_transaction == 0
        assert not math.isnan(result.p99) and result.p99 < 10
