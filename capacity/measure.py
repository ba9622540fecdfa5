"""What a run of the model measures, and how.

**Sustained throughput** is the messages whose effect became visible in the aggregates during the steady window
(after the warm-up), divided by the window's length. They are counted on every commit of the fleet that changes the
aggregates (every lane of the one-transaction design, every partial the one reducer applies): the changes it
applied, times the messages a change stands for (the messages the state stage decided over the changes it wrote:
a duplicate or a stale version is decided without a change, and becomes visible with its trade's). The aggregates
change in lumps, so the window's ends are moved to the first and the last commit inside it: the count is what the
commits after the first one made visible, over the time between the two (a lump just inside or just outside an end
does not count as a second's worth). The pipeline *keeps up* when that rate is at least
``KEEPS_UP`` (99%) of the rate the producer sent at in the window: then it sustains the offered load; otherwise it
sustains the rate measured. That is the resolution: 1% (``tests/unit/test_capacity_model.py`` shows a pipeline
delivering 95% of the load reported as falling behind, one delivering 99.5% as keeping up).

**Latency** is a message's send time to its aggregate being visible, for the messages sent in the steady window;
one not visible when the simulation ends counts what it waited until then (``>`` marks such a p99: a lower bound).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from capacity.deployment import Design

if TYPE_CHECKING:
    from capacity.model import Simulation

KEEPS_UP = 0.99
STAGE_NAMES = {"state": "state_lanes", "map": "map_lanes", "combine": "combine_lanes", "reduce": "reducer"}
TABLE_QUOTA_NAMES = {
    "StateTable": "state_table_quota",
    "AggregateMarkerTable": "marker_table_quota",
    "PartialTable": "partial_table_quota",
    "AggregateTable": "aggregate_table_quota",
    "ReduceTable": "reduce_table_quota",
}


@dataclass
class Result:
    design: str
    offered: float
    quotas: str
    transaction_duration: float
    invoke_overhead: float
    throughput: float  # sustained: the offered load if it keeps up, else what became visible a second
    visible_per_second: float  # messages whose aggregates became visible in the window, a second (fleet)
    sent_per_second: float  # messages the producer sent in the window, a second (fleet)
    keeps_up: bool
    p50: float
    p99: float
    p99_censored: bool
    busy: dict[str, float]  # stage -> mean busy share of its lanes in the window
    busiest: str
    busiest_share: float
    binds: str  # what stops it (one name), or "nothing"
    binds_detail: str
    limits: list[str]  # every quota or hard limit it ran into
    write_units_per_message: float
    write_units_by_table: dict[str, float]
    table_quota_share: dict[str, float]  # write units a second over the table's quota
    conflicts_per_transaction: float
    retries: int
    failed_batches: int
    throttles: dict[str, int]  # stage -> invocations refused concurrency
    peak_concurrency: dict[str, float]  # stage -> most concurrent executions (fleet)
    hot_item_transactions_per_second: float
    reduce: dict[str, float]
    deployment: dict[str, int]


def sustained(
    sent: Sequence[float], visible: Sequence[tuple[float, float]], window: tuple[float, float], weight: float
) -> tuple[float, float, bool]:
    """(visible a second, sent a second, keeps up) over ``window``: ``sent`` are the slice's send times (each stands
    for ``weight`` messages of the fleet), ``visible`` the fleet's commits (time, messages they made visible)."""
    start, end = window
    sent_rate = sum(1 for t in sent if start <= t < end) * weight / (end - start)
    commits = sorted((t, n) for t, n in visible if start <= t <= end)
    if len(commits) < 2 or commits[-1][0] - commits[0][0] < (end - start) / 2:
        return 0.0, sent_rate, False
    first, last = commits[0][0], commits[-1][0]
    after_first = sum(n for t, n in commits if t > first)
    visible_rate = after_first / (last - first)
    return visible_rate, sent_rate, visible_rate >= KEEPS_UP * sent_rate


def visible_events(sim: Simulation) -> list[tuple[float, float]]:
    """The fleet's commits as messages made visible: the changes each applied, times the messages a change stands
    for (the messages the state stage decided over the changes it wrote: a duplicate or a stale version is decided
    without a change, and becomes visible with the change of its trade)."""
    per_change = len(sim.decided_at) / len(sim.emitted_at) if sim.emitted_at else 0.0
    return [(t, n * per_change) for t, n in sim.applied]


def latencies(
    sent: Sequence[float], done: Sequence[float], window: tuple[float, float], end: float
) -> tuple[float, float, bool]:
    """p50, p99 of the messages sent in the window, and whether the p99 is censored; NaN if none."""
    waited, censored = [], []
    for s, d in zip(sent, done, strict=True):
        if window[0] <= s < window[1]:
            finished = not math.isnan(d)
            waited.append((d if finished else end) - s)
            censored.append(not finished)
    if not waited:
        return math.nan, math.nan, False
    order = sorted(range(len(waited)), key=waited.__getitem__)
    i99 = order[min(len(order) - 1, int(len(order) * 0.99))]
    return waited[order[len(order) // 2]], waited[i99], censored[i99]


def measure(sim: Simulation, end: float) -> Result:
    p, d, stats = sim.p, sim.d, sim.stats
    span = sim.window[1] - sim.window[0]
    visible, sent_rate, keeps_up = sustained(sim.sent_at, visible_events(sim), sim.window, d.weight)
    p50, p99, censored = latencies(sim.sent_at, sim.done_at, sim.window, end)
    busy = {STAGE_NAMES[s]: stats.busy.get(s, 0.0) / (n * span) for s, n in sim.sim_lanes.items() if n}
    busiest = max(busy, key=busy.__getitem__)
    quota_share = {t.name: t.units / end / p.table_wcu_quota for t in sim.tables}
    limits = limits_hit(sim, quota_share)
    binds, detail = binding(keeps_up, busy, limits)
    total, by_table = write_units(sim)
    return Result(
        design=sim.design.value,
        offered=sim.load,
        quotas=sim.quotas,
        transaction_duration=p.transaction_duration,
        invoke_overhead=p.invoke_overhead,
        throughput=sim.load if keeps_up else visible,
        visible_per_second=visible,
        sent_per_second=sent_rate,
        keeps_up=keeps_up,
        p50=p50,
        p99=p99,
        p99_censored=censored,
        busy=busy,
        busiest=busiest,
        busiest_share=busy[busiest],
        binds=binds,
        binds_detail=detail,
        limits=[name for name, _ in limits],
        write_units_per_message=total,
        write_units_by_table=by_table,
        table_quota_share=quota_share,
        conflicts_per_transaction=stats.conflicts / max(1, stats.transactions),
        retries=stats.conflicts + stats.throttle_retries,
        failed_batches=stats.failed_batches,
        throttles=dict(stats.invocation_throttles),
        peak_concurrency=dict(stats.peak),
        hot_item_transactions_per_second=stats.hot_commits / span,
        reduce=reduce_figures(sim, span),
        deployment=deployment_figures(sim),
    )


def write_units(sim: Simulation) -> tuple[float, dict[str, float]]:
    """Write units a message of the messages that got through, in all and by table (NaN and {} if none did)."""
    through = sum(1 for t in sim.done_at if not math.isnan(t)) * sim.d.weight
    if not through:
        return math.nan, {}
    units = {t.name: t.units / through for t in sim.tables}
    return sum(units.values()), units


def deployment_figures(sim: Simulation) -> dict[str, int]:
    """The template parameters of the run, the streams' shards, each stage's lanes and the slice."""
    p, d, design = sim.p, sim.d, sim.design
    return {
        **d.template_parameters(),
        "StateTable stream shards": d.state_partitions,
        "PartialTable stream shards": d.partitions("PartialTable", p) if design.partial_table else 0,
        "reducer stream shards": d.reducer_shards(p, design) if design.partials else 0,
        **{f"{stage} lanes": n for stage, n in d.lanes(p, design).items()},
        "simulated 1 in": d.weight,
    }


def reduce_figures(sim: Simulation, span: float) -> dict[str, float]:
    """The reducer over the window: invocations, partials, transactions a second, partials a transaction, the
    combining level's partials a combined partial, and where the reducer's time goes."""
    counts, p = sim.stats.reduce, sim.p
    if not counts.get("invocations"):
        return {}
    share = sim.p.cpu_share(p.reduce_memory)
    figures = {f"{k}_per_second": v / span for k, v in counts.items()}
    figures["partials_per_transaction"] = counts["partials"] / max(1.0, counts.get("transactions", 0.0))
    figures["share_transactions"] = counts.get("transactions", 0.0) * p.transaction_duration / span
    figures["share_cpu"] = counts["partials"] * p.reduce_cpu_per_partial / share / span
    figures["share_overhead"] = counts["invocations"] * p.invoke_overhead / span
    if counts.get("combined"):
        figures["partials_per_combined"] = counts["combined_partials"] / counts["combined"]
    return figures


def binding(keeps_up: bool, busy: dict[str, float], limits: list[tuple[str, str]]) -> tuple[str, str]:
    """What stops the pipeline, as one name (a quota, a limit, or a stage), and a sentence; ("nothing", ...) when
    it keeps up."""
    if keeps_up:
        name = max(busy, key=busy.__getitem__)
        return "nothing", f"nothing (busiest: {name} {busy[name]:.0%})"
    reasons = limits
    if not reasons:
        name = max(busy, key=busy.__getitem__)
        reasons = [(name, f"{name} ({busy[name]:.0%} busy)")]
    return reasons[0][0], "; ".join(text for _, text in reasons)


def limits_hit(sim: Simulation, quota_share: dict[str, float]) -> list[tuple[str, str]]:
    """Every quota or hard limit the run ran into."""
    return table_limits(sim, quota_share) + service_limits(sim)


def table_limits(sim: Simulation, quota_share: dict[str, float]) -> list[tuple[str, str]]:
    """The tables' write quotas reached, and their partitions (or items) throttled more than now and then."""
    p, stats = sim.p, sim.stats
    reasons = [
        (TABLE_QUOTA_NAMES[t.name], f"{t.name}'s write quota ({p.table_wcu_quota:,} WCU/s)")
        for t in sim.tables
        if t.quota_throttles or quota_share[t.name] > 0.9
    ]
    reasons += [
        (f"{TABLE_QUOTA_NAMES[t.name].removesuffix('_quota')}_partition", f"{t.name}'s partitions")
        for t in sim.tables
        if t.partition_throttles > 0.01 * max(1, stats.transactions) + 10
    ]
    return reasons


def service_limits(sim: Simulation) -> list[tuple[str, str]]:
    """The account's concurrency, the Kinesis shards, the item every one-transaction transaction touches."""
    p, stats = sim.p, sim.stats
    reasons = []
    refused = sum(n for s, n in stats.invocation_throttles.items() if s != "reduce")
    if refused > 0.01 * max(1, len(sim.sent_at)):
        reasons.append(("lambda_concurrency_quota", f"the account's concurrency ({p.concurrency_quota:,})"))
    if stats.put_retries > 0.01 * len(sim.sent_at):
        reasons.append(
            ("kinesis_shard_quota", f"the account's Kinesis shards ({p.shard_quota:,})")
            if sim.d.shards >= p.shard_quota
            else ("kinesis_shard_ingest", "Kinesis shards' ingest (1,000 records a second each)")
        )
    span = sim.window[1] - sim.window[0]
    if sim.design is Design.ONE_TRANSACTION and stats.hot_item_busy / span > 0.9:
        reasons.append(("item_message_count", "item message_count (every transaction touches it)"))
    return reasons
