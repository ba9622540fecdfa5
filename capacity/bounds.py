"""Hard bounds worked out by hand, independently of the simulation: no figure the model prints may exceed one.

Each is a limit over what a message costs it at least, in messages a second, from the parameters, the deployment
and counts taken from the traffic itself (not from a run):

* ``kinesis_shard_ingest``: the shards x 1,000 records (or 1 MB) a second each;
* ``state_table_quota``: the table's write quota over 1 write unit a trade (the StateLambda writes each trade at
  least once);
* ``marker_table_quota``: the quota over 2 write units a trade (a marker is a transactional write);
* ``partial_table_quota`` (the designs with a table keyed by partial): the quota over 4 write units per 99 trades
  (a partial holds 99 trade changes at most, and is put and deleted, both transactionally);
* ``lambda_concurrency_quota``: the account's concurrency over the seconds of Lambda CPU a message takes at least
  (the StateLambda's per record and the map's per trade, at their functions' share of a vCPU);
* ``item_message_count`` (the one-transaction design): every transaction holds message_count for its duration, and
  holds at most as many trades as fit in 100 items beside the aggregates they move;
* ``reducer`` (Map/Reduce, Map/Combine/Reduce): one transaction at a time, each at most as many partials as fit
  beside the aggregates it moves, a partial at most 99 trades (combined: 99 partials of 99);
* ``reduce_table_partition`` (the ReduceTable, whose items share one partition key): its one partition takes 1,000
  write units a second, and each partial there (the map's with the combining level off, a combined one of up to 99
  of them with it on) is put and deleted (4 units).

"Messages a trade" converts trades to messages: the messages of the traffic over its distinct trades (a duplicate or
a stale revision is a message without a write of its own).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from capacity.deployment import Deployment, Design
from capacity.params import Params
from capacity.traffic import WorkshopTraffic
from riskpipe.aggregation import TRANSACT_MAX_ITEMS
from riskpipe.config import AggregateSettings

ORDER: tuple[str, ...] = AggregateSettings.model_fields["aggregation_order"].default
MAP_TRADES = TRANSACT_MAX_ITEMS - 1  # a map transaction: a marker per trade and the partial
COMBINED = TRANSACT_MAX_ITEMS - 1  # a combining transaction: a delete per partial and the combined partial


@dataclass(frozen=True)
class TrafficCounts:
    """Counts taken from the traffic, for the bounds: no simulation involved."""

    messages: int
    trades: int  # distinct trades
    record_bytes: float
    most_trades: int  # the most distinct trades a one-transaction sub-batch can hold (see ``most_trades``)

    @property
    def messages_per_trade(self) -> float:
        return self.messages / self.trades

    @classmethod
    def of(cls, traffic: WorkshopTraffic, calls: int = 300) -> TrafficCounts:
        records = [r for _, call in zip(range(calls), traffic.calls(), strict=False) for r in call]
        first: dict[str, list[str]] = {}
        for record in records:
            if record.TradeID not in first:
                first[record.TradeID] = record.contribution.prefixes(ORDER)
        return cls(len(records), len(first), traffic.record_bytes, most_trades(list(first.values())))


def most_trades(prefixes: Sequence[Sequence[str]]) -> int:
    """The most consecutive distinct trades that fit in one 100-item transaction with a marker each, the aggregates
    they move and message_count: the largest n for which some n consecutive trades move few enough aggregates."""
    for n in range(TRANSACT_MAX_ITEMS - 1, 0, -1):
        if n + fewest_aggregates(prefixes, n) + 1 <= TRANSACT_MAX_ITEMS:
            return n
    return 0


def fewest_aggregates(prefixes: Sequence[Sequence[str]], n: int) -> int:
    """The fewest distinct aggregates any n consecutive trades move (a sliding window of counts)."""
    held: Counter[str] = Counter()
    for trade in prefixes[:n]:
        held.update(trade)
    fewest = len(held)
    for i in range(n, len(prefixes)):
        held.update(prefixes[i])
        held.subtract(prefixes[i - n])
        for gone in [k for k in prefixes[i - n] if held[k] == 0]:
            del held[gone]
        fewest = min(fewest, len(held))
    return fewest


@dataclass(frozen=True)
class Bound:
    name: str
    messages_per_second: float
    how: str


def bounds(design: Design, params: Params, deployment: Deployment, counts: TrafficCounts) -> list[Bound]:
    """Every bound that applies to this design and deployment, lowest first."""
    p, d, m = params, deployment, counts.messages_per_trade
    trades_per_message = 1 / m
    per_shard = min(p.shard_records_per_second, p.shard_bytes_per_second / counts.record_bytes)
    lambda_seconds = p.state_cpu_per_record / p.cpu_share(p.state_memory) + trades_per_message * (
        p.aggregate_cpu_per_record / p.cpu_share(p.aggregate_memory)
    )
    found = [
        Bound("kinesis_shard_ingest", d.shards * per_shard, f"{d.shards:,} shards x {per_shard:,.0f} records/s"),
        Bound("state_table_quota", p.table_wcu_quota * m, f"{p.table_wcu_quota:,} WCU/s / (1 WCU a trade) x {m:.3f}"),
        Bound(
            "marker_table_quota", p.table_wcu_quota * m / 2, f"{p.table_wcu_quota:,} WCU/s / (2 WCU a trade) x {m:.3f}"
        ),
        Bound(
            "lambda_concurrency_quota",
            p.concurrency_quota / lambda_seconds,
            f"{p.concurrency_quota:,} / {lambda_seconds * 1000:.2f} ms of CPU a message",
        ),
    ]
    found += _aggregate_bounds(design, p, counts)
    return sorted(found, key=lambda b: b.messages_per_second)


def _aggregate_bounds(design: Design, p: Params, counts: TrafficCounts) -> list[Bound]:
    m = counts.messages_per_trade
    if design is Design.ONE_TRANSACTION:
        trades = counts.most_trades
        return [
            Bound(
                "item_message_count",
                trades * m / p.transaction_duration,
                f"{trades} trades a transaction x {m:.3f} / {p.transaction_duration * 1000:.0f} ms",
            )
        ]
    per_partial = MAP_TRADES * (COMBINED if design.combining else 1)
    partials = TRANSACT_MAX_ITEMS - 1 - len(ORDER)  # beside message_count and a partial's aggregates (one a level)
    found = [
        Bound(
            "reducer",
            partials * per_partial * m / p.transaction_duration,
            f"{partials} partials of {per_partial:,} trades a transaction x {m:.3f} / "
            f"{p.transaction_duration * 1000:.0f} ms, one at a time",
        )
    ]
    if not design.spread:  # the ReduceTable: one partition key, a partial (or combined partial) put and deleted
        what = f"a combined partial of {COMBINED} x {MAP_TRADES} trades" if design.combining else "a partial"
        found.append(
            Bound(
                "reduce_table_partition",
                p.partition_wcu / 4 * per_partial * m,
                f"{p.partition_wcu:,} WCU/s / (4 WCU {what}{'' if design.combining else f' of {MAP_TRADES} trades'})"
                f" x {m:.3f}",
            )
        )
    if design.partial_table:
        found.append(
            Bound(
                "partial_table_quota",
                p.table_wcu_quota * m * MAP_TRADES / 4,
                f"{p.table_wcu_quota:,} WCU/s / (4 WCU per {MAP_TRADES} trades) x {m:.3f}",
            )
        )
    return found


def lowest(found: list[Bound]) -> Bound:
    return min(found, key=lambda b: b.messages_per_second)
