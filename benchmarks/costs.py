"""DynamoDB calls and capacity per message: the StateLambda against the naive read-then-write version and a
Powertools-idempotency version, and the aggregate stage (map then reduce) against the previous one-transaction
design, the naive ADD per record and the workshop's map-then-reduce shape. Calls are counted with botocore's event
hooks; capacity by DynamoDB's rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.common import Row, batches, create_table, moto_stack
from benchmarks.units import CapacityMeter
from benchmarks.variants import IdempotentStateService, MapReduceAggregate, one_transaction_aggregate
from functions.aggregate import app as aggregate_app
from functions.reduce import app as reduce_app
from functions.state import app as state_app
from localpipe.esm.streams import DynamoDBStreamReader
from localpipe.pipeline.naive import NaiveAggregateService, NaiveStateService
from localpipe.stack.local import function_env
from localpipe.stack.resources import Deployed
from localpipe.stack.shapes import stream_records
from riskpipe.aggregation import TradeChange
from riskpipe.config import AggregateSettings, ReduceSettings, StateSettings
from riskpipe.poison import PoisonQueue
from riskpipe.producer import generate_messages
from riskpipe.state_service import BatchDecider
from riskpipe.state_store import VersionedStateStore

DUPLICATE_RATES = (0.0, 0.1, 0.5)
CAPACITY_NOTE = "write units from item sizes by DynamoDB's rules (moto under-reports them)"


def _state_settings(deployed: Deployed) -> StateSettings:
    return StateSettings.from_env(function_env(deployed))


def _ours(session: Any, deployed: Deployed) -> BatchDecider:
    return state_app.build_service(_state_settings(deployed), session=session)


def _naive(session: Any, deployed: Deployed) -> BatchDecider:
    settings = _state_settings(deployed)
    poison = PoisonQueue(settings.poison_queue_url, session.client("sqs"))
    return NaiveStateService(session.client("dynamodb"), settings.state_table_name, poison)


def _idempotent(session: Any, deployed: Deployed) -> BatchDecider:
    settings = _state_settings(deployed)
    client = session.client("dynamodb")
    create_table(client, "idempotency")
    return IdempotentStateService(VersionedStateStore(settings.state_table_name, client), client, "idempotency")


STATE_VARIANTS: dict[str, Callable[[Any, Deployed], BatchDecider]] = {
    "ours (coalesced conditional write)": _ours,
    "naive read-then-write": _naive,
    "Powertools @idempotent_function": _idempotent,
}


def state_costs(messages: int = 600, trades: int = 150, batch_size: int = 100) -> list[Row]:
    rows: list[Row] = []
    for rate in DUPLICATE_RATES:
        sent = generate_messages(messages, trades, seed=11, duplicates=rate, now=1.7e9)
        for name, build in STATE_VARIANTS.items():
            with moto_stack() as (session, deployed):
                meter = CapacityMeter(session)
                decider = build(session, deployed)
                meter.reset()
                for batch in batches(stream_records(*sent), batch_size):
                    decider.decide(list(batch))
            label = f"dup {rate:.0%}: {name}"
            ours = name.startswith("ours")
            rows += [
                Row(
                    "StateLambda cost",
                    f"{label}: DynamoDB calls / message",
                    meter.total_calls / messages,
                    target="<= 1 (naive: 2)" if ours else "",
                    met=(meter.total_calls / messages <= 1) if ours else None,
                    note=", ".join(f"{op} {n}" for op, n in sorted(meter.calls.items())),
                ),
                Row(
                    "StateLambda cost",
                    f"{label}: reads / message",
                    meter.items_read / messages,
                    target="0" if ours else "",
                    met=(meter.items_read == 0) if ours else None,
                ),
                Row(
                    "StateLambda cost",
                    f"{label}: write units / message",
                    meter.write_units / messages,
                    note=f"{meter.refused_writes} refused conditional writes; {CAPACITY_NOTE}",
                ),
            ]
    return rows


def _changes(deployed: Deployed) -> list[TradeChange]:
    reader = DynamoDBStreamReader(deployed.client("dynamodbstreams"), deployed.stream_arns["StateTable"])
    return [aggregate_app.to_change(_record(r.lambda_record)) for r in reader.poll()]


def _record(raw: dict[str, Any]) -> Any:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    return DynamoDBRecord(raw)


AGGREGATE_VARIANTS = (
    "ours (map: markers + one partial; reduce: partials summed, deleted under condition)",
    "previous (one transaction: markers + deltas)",
    "naive ADD per record",
    "workshop map-then-reduce",
)
REDUCE_BATCH = 1000  # the reduce mapping's BatchSize (template.yaml)


class TransactionItems:
    """Counts the items of every TransactWriteItems by table (the markers' share of the write units)."""

    def __init__(self, session: Any) -> None:
        self.by_table: Counter[str] = Counter()
        session.events.register("before-parameter-build.dynamodb.TransactWriteItems", self._count)

    def _count(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params.get("TransactItems", []):
            [(_, operation)] = entry.items()
            self.by_table[operation["TableName"]] += 1


class MapThenReduce:
    """Our stage as deployed (``Combining`` "false"): the map's service on each batch; then the reduce on the
    ReduceTable's stream (its INSERTs), in batches of its mapping's size."""

    def __init__(self, session: Any, deployed: Deployed) -> None:
        functions = deployed.template.functions()
        self.map = aggregate_app.build_service(
            AggregateSettings.from_env(deployed.function_env(functions["AggregateFunction"])), session=session
        )
        self.reduce = reduce_app.build_service(
            ReduceSettings.from_env(deployed.function_env(functions["ReduceFunction"])), session=session
        )
        self.reader = DynamoDBStreamReader(deployed.client("dynamodbstreams"), deployed.stream_arns["ReduceTable"])

    def apply(self, changes: list[TradeChange]) -> Any:
        return self.map.apply(changes)

    def drain(self) -> int:
        """Reduce every partial written so far; the number of reduce transactions."""
        partials = [
            reduce_app.to_partial(_record(r.lambda_record))
            for r in self.reader.poll()
            if r.lambda_record["eventName"] == "INSERT"
        ]
        return sum(self.reduce.apply(list(batch)).transactions for batch in batches(partials, REDUCE_BATCH))


def _state_changes(sent: list[Any]) -> list[TradeChange]:
    """The StateTable stream that our StateLambda produces for these messages (the input of every variant)."""
    with moto_stack() as (session, deployed):
        state = _ours(session, deployed)
        for batch in batches(stream_records(*sent), 100):
            state.decide(list(batch))
        return [c for c in _changes(deployed) if c.applies]


def _aggregate_variant(name: str, session: Any, deployed: Deployed) -> Any:
    """One of AGGREGATE_VARIANTS, built on this stack: each has an ``apply(changes)`` like AggregateService."""
    settings = AggregateSettings.from_env(deployed.function_env(deployed.template.functions()["AggregateFunction"]))
    client = session.client("dynamodb")
    aggregate_table = deployed.names["AggregateTable"]
    if name.startswith("ours"):
        return MapThenReduce(session, deployed)
    if name.startswith("previous"):
        return one_transaction_aggregate(
            client, aggregate_table, settings.marker_table_name, settings.aggregation_order
        )
    if name.startswith("naive"):
        return NaiveAggregateService(client, aggregate_table, settings.aggregation_order)
    create_table(client, "reduce")
    return MapReduceAggregate(client, aggregate_table, "reduce", settings.aggregation_order)


@dataclass
class AggregateMeasure:
    meter: CapacityMeter
    trades_per_batch: list[int]
    transactions: int  # the map's (ours), or all of them
    reduce_transactions: int
    markers: int  # marker items written in transactions


def _measure_aggregate(name: str, changes: list[TradeChange], batch_size: int) -> AggregateMeasure:
    """The calls and capacity of one variant applying the changes in batches (ours: then its reduce drained)."""
    with moto_stack() as (session, deployed):
        meter = CapacityMeter(session)
        items = TransactionItems(session)
        applier = _aggregate_variant(name, session, deployed)
        meter.reset()
        trades_per_batch = []
        for batch in batches(changes, batch_size):
            applier.apply(list(batch))
            trades_per_batch.append(len({c.trade_id for c in batch}))
        transactions = meter.calls.get("TransactWriteItems", 0)
        reduce_transactions = applier.drain() if isinstance(applier, MapThenReduce) else 0
        markers = items.by_table[deployed.names["AggregateMarkerTable"]]
    return AggregateMeasure(meter, trades_per_batch, transactions, reduce_transactions, markers)


def _aggregate_rows(label: str, measure: AggregateMeasure, changes: int, distinct: int) -> list[Row]:
    meter = measure.meter
    split = f"; {measure.transactions} map + {measure.reduce_transactions} reduce transactions"
    markers = 2 * measure.markers / changes  # a marker is well under 1 KB: 2 WCU in a transaction
    return [
        Row(
            "aggregate cost",
            f"{label}: transactions / batch",
            measure.transactions / len(measure.trades_per_batch),
            note=f"{changes} changes of {distinct} trades, up to {max(measure.trades_per_batch)} trades a batch"
            + (split if measure.reduce_transactions else "")
            + "; "
            + ", ".join(f"{op} {n}" for op, n in sorted(meter.calls.items())),
        ),
        Row(
            "aggregate cost",
            f"{label}: write units / applied record",
            meter.write_units / changes,
            note=CAPACITY_NOTE
            + ("; transaction items cost 2x" if measure.transactions else "")
            + (f"; of which the per-trade markers {markers:.2f}: the floor of exactly-once here" if markers else ""),
        ),
    ]


def aggregate_costs(messages: int = 1000, trades: int = 250, batch_sizes: tuple[int, ...] = (100, 1000)) -> list[Row]:
    changes = _state_changes(generate_messages(messages, trades, seed=12, duplicates=0.1, now=1.7e9))
    distinct = len({c.trade_id for c in changes})
    rows: list[Row] = []
    for batch_size in batch_sizes:
        for name in AGGREGATE_VARIANTS:
            measure = _measure_aggregate(name, changes, batch_size)
            rows += _aggregate_rows(f"batches of {batch_size}: {name}", measure, len(changes), distinct)
    return rows
