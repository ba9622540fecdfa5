"""The whole pipeline on one machine: producer -> Kinesis -> StateLambda -> StateTable -> stream -> aggregate.

Resources come from template.yaml (created on moto), the functions are the real handlers (built with
their own ``build_service``), and the two stream triggers are ``EventSourceMapping`` runners configured
from the template's event sources. Every fault is a seeded rate, so a scenario is reproducible.
"""

from __future__ import annotations

import importlib
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3

from localpipe.esm import (
    DeliveryFaults,
    DynamoDBStreamReader,
    EventSourceMapping,
    KinesisReader,
    SqsDestination,
)
from localpipe.faults import FaultRates, inject_throttling, wrap_function
from localpipe.naive import NaiveAggregateService, NaiveStateService
from localpipe.readback import queue_depth, read_aggregates, read_state
from localpipe.resources import Deployed
from riskpipe.aggregate_service import AggregateOutcome, ChangeApplier
from riskpipe.aggregation import MESSAGE_COUNT_ID, TradeChange, compare_aggregates, expected_aggregates, latest_versions
from riskpipe.config import AggregateSettings, ProducerSettings, StateSettings
from riskpipe.models import RiskMessage, WriteOutcome
from riskpipe.poison import PoisonQueue
from riskpipe.producer import KinesisPublisher, generate_messages
from riskpipe.state_service import BatchDecider, BatchDecisions, StreamRecord

STATE_FUNCTION = "StateFunction"
AGGREGATE_FUNCTION = "AggregateFunction"
PRODUCER_FUNCTION = "ProducerFunction"


@dataclass(frozen=True)
class Send:
    """One record to put on the stream: a message, or raw bytes that are not one (poison)."""

    data: bytes
    partition_key: str
    message: RiskMessage | None = None

    @classmethod
    def of(cls, message: RiskMessage) -> Send:
        return cls(message.to_wire(), message.TradeID, message)


@dataclass
class LocalContext:
    """The parts of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "local"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class RecordingDecider:
    """Keeps the first decided outcome of every Kinesis record ("shard:sequence"): its fate, whatever the
    redeliveries."""

    def __init__(self, inner: BatchDecider) -> None:
        self.inner = inner
        self.first_outcome: dict[str, WriteOutcome] = {}

    def decide(self, records: Sequence[StreamRecord]) -> BatchDecisions:
        decisions = self.inner.decide(records)
        for record in records:  # sequence numbers are unique per shard only
            decision = decisions.by_sequence[record.sequence_number]
            if decision.outcome is not None:
                self.first_outcome.setdefault(f"{record.shard_id}:{record.sequence_number}", decision.outcome)
        return decisions


class RecordingApplier:
    def __init__(self, inner: ChangeApplier) -> None:
        self.inner = inner
        self.applied: set[str] = set()
        self.duplicates_skipped = 0
        self.transactions = 0
        self.conflicts = 0

    def apply(self, changes: Sequence[TradeChange]) -> AggregateOutcome:
        outcome = self.inner.apply(changes)
        self.applied |= outcome.applied
        self.duplicates_skipped += len(outcome.duplicates)
        self.transactions += outcome.transactions
        self.conflicts += outcome.conflicts
        return outcome


@dataclass
class PipelineReport:
    naive: bool
    sent: int
    distinct_messages: int
    trades: int
    poison_sent: int
    delivered: int
    invocations: int
    retried_batches: int
    bisections: int
    lost_checkpoints: int
    overlap_invocations: int
    outcomes: Counter[str]
    exhausted: int
    aggregate_delivered: int
    aggregate_applied: int
    aggregate_duplicates_skipped: int
    aggregate_exhausted: int
    transactions: int
    poison_in_queue: int
    state_failure_messages: int
    aggregate_failure_messages: int
    stale_items: dict[str, tuple[int, int]]  # trade -> (highest version sent, version stored)
    aggregate_differences: dict[str, tuple[Decimal, Decimal]]
    message_count: Decimal
    aggregates: dict[str, Decimal]
    elapsed: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def unaccounted(self) -> int:
        return self.sent - sum(self.outcomes.values()) - self.exhausted

    @property
    def state_exact(self) -> bool:
        return not self.stale_items

    @property
    def aggregates_exact(self) -> bool:
        return not self.aggregate_differences and self.message_count == self.outcomes.get("accepted", 0)

    @property
    def exact(self) -> bool:
        return self.state_exact and self.aggregates_exact and self.unaccounted == 0


def scenario_sends(
    *, messages: int, trades: int, seed: int, rates: FaultRates, poison: int = 0, now: float | None = None
) -> list[Send]:
    """The demo's traffic: generated messages, producer duplicates, a second producer's late versions, poison."""
    rng = random.Random(seed)
    generated = generate_messages(messages, trades, seed=seed, duplicates=rates.duplicates, now=now)
    order = list(range(len(generated)))
    # A second producer: some messages are sent late, after newer versions of their trade.
    for index in range(len(order)):
        if rng.random() < rates.out_of_order:
            target = min(len(order) - 1, index + rng.randint(1, 60))
            order.insert(target, order.pop(index))
    sends = [Send.of(generated[i]) for i in order]
    for n in range(poison):
        bad = rng.choice([b"{not json", b"[]", b'{"TradeID": ""}', b"\xff\xfe", b'{"TradeID": "P", "Version": -1}'])
        sends.insert(rng.randrange(len(sends) + 1), Send(bad, f"poison-{n}"))
    return sends


@contextmanager
def _quiet_powertools(verbose: bool) -> Iterator[None]:
    saved = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    if not verbose:
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = saved


class LocalPipeline:
    def __init__(
        self,
        deployed: Deployed,
        *,
        rates: FaultRates | None = None,
        seed: int = 0,
        naive: bool = False,
        verbose: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.deployed = deployed
        self.rates = rates or FaultRates()
        self.seed = seed
        self.naive = naive
        self.verbose = verbose
        self.clock = clock
        self.template = deployed.template
        self.region = deployed.session.region_name or "us-east-1"
        self._fault_session = boto3.Session(region_name=self.region)
        inject_throttling(
            self._fault_session, self.rates.throttling, random.Random(seed + 5), ("UpdateItem", "TransactWriteItems")
        )
        self._build()

    # ---------------------------------------------------------------- wiring

    def _module(self, function: str) -> Any:
        module = importlib.import_module(self.template.functions()[function].module)
        module.logger.setLevel("INFO" if self.verbose else "CRITICAL")
        return module

    def _quiet(self, module: Any, handler: Callable[[dict, Any], Any]) -> Callable[[dict, Any], Any]:
        """Without --verbose, the functions' EMF metrics are not printed. Powertools keeps the metric set
        when POWERTOOLS_METRICS_DISABLED is on (it only clears after printing), so clear it ourselves."""
        if self.verbose:
            return handler

        def invoke(event: dict, context: Any) -> Any:
            try:
                return handler(event, context)
            finally:
                module.metrics.clear_metrics()

        return invoke

    def _env(self, function: str) -> dict[str, str]:
        return self.deployed.function_env(self.template.functions()[function])

    def _build(self) -> None:
        functions = self.template.functions()
        state_env, aggregate_env = self._env(STATE_FUNCTION), self._env(AGGREGATE_FUNCTION)
        state_module, aggregate_module = self._module(STATE_FUNCTION), self._module(AGGREGATE_FUNCTION)
        # moto numbers a table's stream records with len(items) and no lock: concurrent writes get
        # duplicate sequence numbers and break its stream iterator. DynamoDB has no such limit, so the
        # template keeps the concurrent default; against moto the StateLambda writes one trade at a time.
        state_settings = StateSettings.from_env({**state_env, "WRITE_CONCURRENCY": "1"})
        aggregate_settings = AggregateSettings.from_env(aggregate_env)
        self.aggregation_order = aggregate_settings.aggregation_order
        session = self._fault_session

        if self.naive:
            poison = PoisonQueue(state_settings.poison_queue_url, session.client("sqs"))
            decider: BatchDecider = NaiveStateService(
                session.client("dynamodb"), state_settings.state_table_name, poison
            )
            applier: ChangeApplier = NaiveAggregateService(
                session.client("dynamodb"), aggregate_settings.aggregate_table_name, self.aggregation_order
            )
        else:
            decider = state_module.build_service(state_settings, session=session)
            applier = aggregate_module.build_service(aggregate_settings, session=session)
        self.state_recorder = RecordingDecider(decider)
        self.aggregate_recorder = RecordingApplier(applier)

        fault_rng = random.Random(self.seed + 1)
        state_handler = self._quiet(state_module, state_module.build_handler(self.state_recorder))
        overlap_handler = self._quiet(state_module, state_module.build_handler(self.state_recorder))
        aggregate_handler = self._quiet(aggregate_module, aggregate_module.build_handler(self.aggregate_recorder))
        delivery = DeliveryFaults(lost_checkpoint=self.rates.lost_checkpoint, overlap=self.rates.overlap)
        sqs = self.deployed.client("sqs")

        state_source = self.template.event_source(STATE_FUNCTION)
        stream_logical = state_source.source
        self.invoke_state = wrap_function(
            state_handler, self.rates, fault_rng, LocalContext(functions[STATE_FUNCTION].logical_id)
        )
        self.invoke_aggregate = wrap_function(
            aggregate_handler, self.rates, fault_rng, LocalContext(AGGREGATE_FUNCTION)
        )
        self.state_mapping = EventSourceMapping(
            state_source,
            KinesisReader(
                self.deployed.client("kinesis"),
                self.deployed.names[stream_logical],
                self.deployed.arns[stream_logical],
                self.region,
            ),
            self.invoke_state,
            destination=_destination(sqs, self.deployed, state_source.on_failure),
            source_arn=self.deployed.arns[stream_logical],
            rng=random.Random(self.seed + 2),
            faults=delivery,
            overlap_invoke=wrap_function(overlap_handler, FaultRates(), fault_rng, LocalContext("overlap")),
            clock=self.clock,
        )
        aggregate_source = self.template.event_source(AGGREGATE_FUNCTION)
        table_logical = aggregate_source.source
        self.aggregate_mapping = EventSourceMapping(
            aggregate_source,
            DynamoDBStreamReader(self.deployed.client("dynamodbstreams"), self.deployed.stream_arns[table_logical]),
            self.invoke_aggregate,
            destination=_destination(sqs, self.deployed, aggregate_source.on_failure),
            source_arn=self.deployed.stream_arns[table_logical],
            rng=random.Random(self.seed + 3),
            faults=delivery,
            clock=self.clock,
        )
        producer_env = self._env(PRODUCER_FUNCTION)
        producer_module = self._module(PRODUCER_FUNCTION)
        self._publisher = KinesisPublisher(
            ProducerSettings.from_env(producer_env).stream_name, self.deployed.client("kinesis")
        )
        self._producer_handler = self._quiet(producer_module, producer_module.build_handler(self._publisher))
        self.state_table = state_settings.state_table_name
        self.poison_queue_url = state_settings.poison_queue_url
        self.aggregate_table = aggregate_settings.aggregate_table_name
        self.marker_table = aggregate_settings.marker_table_name

    # ---------------------------------------------------------------- running

    def invoke_producer(self, event: dict) -> Any:
        return self._producer_handler(event, LocalContext(PRODUCER_FUNCTION))

    def publish(self, sends: Sequence[Send]) -> None:
        """Messages go through the real producer handler; raw poison bytes are put as they are."""
        kinesis = self.deployed.client("kinesis")
        stream = self.deployed.names[self.template.event_source(STATE_FUNCTION).source]
        run: list[RiskMessage] = []

        def flush() -> None:
            if run:
                event = {"messages": [m.model_dump() for m in run]}
                self._producer_handler(event, LocalContext(PRODUCER_FUNCTION))
                run.clear()

        for send in sends:
            if send.message is not None and send.partition_key == send.message.TradeID:
                run.append(send.message)
                continue
            flush()
            kinesis.put_record(StreamName=stream, Data=send.data, PartitionKey=send.partition_key)
        flush()

    def run(
        self,
        sends: Sequence[Send],
        *,
        burst: int = 500,
        progress: Callable[[int, int], None] | None = None,
        max_steps: int = 2_000_000,
    ) -> PipelineReport:
        started = time.perf_counter()
        rng = random.Random(self.seed)
        mappings = (self.state_mapping, self.aggregate_mapping)
        steps = 0
        with _quiet_powertools(self.verbose):
            for start in range(0, len(sends), burst):
                self.publish(sends[start : start + burst])
                # Let the consumers run a while before the next burst, as a live stream would.
                for _ in range(rng.randint(0, 2 * max(1, burst // self.state_mapping.config.batch_size))):
                    steps += self._step(mappings, rng)
                if progress:
                    progress(min(len(sends), start + burst), len(sends))
            while self._step(mappings, rng):
                steps += 1
                if steps > max_steps:
                    raise RuntimeError(f"the pipeline did not settle after {max_steps} batches")
                if progress and steps % 20 == 0:
                    progress(len(sends), len(sends))
        return self.report(sends, time.perf_counter() - started)

    @staticmethod
    def _step(mappings: Sequence[EventSourceMapping], rng: random.Random) -> int:
        for mapping in mappings:
            mapping.poll()
        busy = [m for m in mappings if m.has_work()]
        if not busy:
            return 0
        rng.choice(busy).step()
        return 1

    # ---------------------------------------------------------------- checking

    def report(self, sends: Sequence[Send], elapsed: float) -> PipelineReport:
        messages = [s.message for s in sends if s.message is not None]
        latest = latest_versions(messages)
        stored = self.read_state()
        stale = {
            trade: (message.Version, stored[trade].Version if trade in stored else -1)
            for trade, message in latest.items()
            if stored.get(trade) != message
        }
        aggregates = self.read_aggregates()
        message_count = aggregates.pop(MESSAGE_COUNT_ID, Decimal(0))
        expected = expected_aggregates(messages, self.aggregation_order)
        state_stats, aggregate_stats = self.state_mapping.stats, self.aggregate_mapping.stats
        outcomes = Counter(o.value for o in self.state_recorder.first_outcome.values())
        exhausted = len(state_stats.records_to_destination - set(self.state_recorder.first_outcome))
        return PipelineReport(
            naive=self.naive,
            sent=len(sends),
            distinct_messages=len({(m.TradeID, m.Version) for m in messages}),
            trades=len(latest),
            poison_sent=sum(1 for s in sends if s.message is None),
            delivered=state_stats.records_delivered,
            invocations=state_stats.invocations,
            retried_batches=state_stats.function_errors + state_stats.partial_failures,
            bisections=state_stats.bisections,
            lost_checkpoints=state_stats.lost_checkpoints + aggregate_stats.lost_checkpoints,
            overlap_invocations=state_stats.overlap_invocations,
            outcomes=outcomes,
            exhausted=exhausted,
            aggregate_delivered=aggregate_stats.records_delivered,
            aggregate_applied=len(self.aggregate_recorder.applied),
            aggregate_duplicates_skipped=self.aggregate_recorder.duplicates_skipped,
            aggregate_exhausted=len(aggregate_stats.records_to_destination),
            transactions=self.aggregate_recorder.transactions,
            poison_in_queue=self.queue_depth(self.poison_queue_url),
            state_failure_messages=self.queue_depth(self._queue_of(STATE_FUNCTION)),
            aggregate_failure_messages=self.queue_depth(self._queue_of(AGGREGATE_FUNCTION)),
            stale_items=stale,
            aggregate_differences=compare_aggregates(expected, aggregates),
            message_count=message_count,
            aggregates=aggregates,
            elapsed=elapsed,
        )

    def _queue_of(self, function: str) -> str:
        destination = self.template.event_source(function).on_failure
        return self.deployed.names[destination] if destination else ""

    def queue_depth(self, url: str) -> int:
        return queue_depth(self.deployed.client("sqs"), url) if url else 0

    def read_state(self) -> dict[str, RiskMessage]:
        return read_state(self.deployed.client("dynamodb"), self.state_table)

    def read_aggregates(self) -> dict[str, Decimal]:
        return read_aggregates(self.deployed.client("dynamodb"), self.aggregate_table)


def _destination(sqs: Any, deployed: Deployed, logical: str | None) -> SqsDestination | None:
    return SqsDestination(sqs, deployed.names[logical]) if logical else None
