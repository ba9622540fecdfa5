"""The whole pipeline on one machine: producer -> Kinesis -> StateLambda -> StateTable -> stream -> aggregate (the
map) -> PartialTable -> stream -> reduce -> AggregateTable.

Resources come from template.yaml (created on moto), the functions are the real handlers (built with
their own ``build_service``), and the three stream triggers are ``EventSourceMapping`` runners configured
from the template's event sources. Every fault is a seeded rate, so a scenario is reproducible.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config

from localpipe.esm import (
    DeliveryFaults,
    DynamoDBStreamReader,
    EventSourceMapping,
    KinesisReader,
    SqsDestination,
)
from localpipe.faults import FaultRates, FaultSession, wrap_function
from localpipe.lambda_context import (
    AGGREGATE_FUNCTION,
    PRODUCER_FUNCTION,
    REDUCE_FUNCTION,
    STATE_FUNCTION,
    LocalContext,
)
from localpipe.naive import naive_aggregate_service, naive_state_service
from localpipe.readback import queue_depth, read_aggregates, read_state
from localpipe.resources import Deployed
from riskpipe.aggregate_service import AggregateOutcome, ChangeApplier
from riskpipe.aggregation import MESSAGE_COUNT_ID, TradeChange, compare_aggregates, expected_aggregates
from riskpipe.config import AggregateSettings, ProducerSettings, ReduceSettings, StateSettings
from riskpipe.models import RiskMessage, WriteOutcome
from riskpipe.partials import Partial
from riskpipe.producer import generate_messages
from riskpipe.publisher import KinesisPublisher
from riskpipe.reduce_service import PartialApplier, ReduceOutcome
from riskpipe.state_service import BatchDecider, BatchDecisions, StreamRecord
from riskpipe.throttling import Pacing
from riskpipe.versions import newest_per_trade

# The SDK's backoff after a throttled write is slept at 1/100 of real time locally (see compress_retry_backoff).
DEFAULT_BACKOFF_SCALE = 0.01
StateFactory = Callable[[StateSettings, boto3.Session], "BatchDecider"]
AggregateFactory = Callable[[AggregateSettings, boto3.Session], "ChangeApplier"]
ReduceFactory = Callable[[ReduceSettings, boto3.Session], "PartialApplier"]


@dataclass(frozen=True)
class Send:
    """One record to put on the stream: a message, or raw bytes that are not one (poison)."""

    data: bytes
    partition_key: str
    message: RiskMessage | None = None

    @classmethod
    def of(cls, message: RiskMessage) -> Send:
        return cls(message.to_wire(), message.TradeID, message)


class RecordingDecider:
    """Keeps the first decided outcome of every Kinesis record ("shard:sequence"): its fate, whatever the
    redeliveries."""

    def __init__(self, inner: BatchDecider) -> None:
        self.inner = inner
        self.first_outcome: dict[str, WriteOutcome] = {}
        self.batches = 0  # batches handed to the StateLambda's domain: each may have written the table
        self.throttled_retries = 0

    def decide(self, records: Sequence[StreamRecord], time_left: float | None = None) -> BatchDecisions:
        self.batches += 1
        decisions = self.inner.decide(records, time_left)
        self.throttled_retries += decisions.throttled_retries
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
        self.partials = 0

    def apply(self, changes: Sequence[TradeChange]) -> AggregateOutcome:
        outcome = self.inner.apply(changes)
        self.applied |= outcome.applied
        self.duplicates_skipped += len(outcome.duplicates)
        self.transactions += outcome.transactions
        self.conflicts += outcome.conflicts
        self.partials += outcome.partials
        return outcome


class RecordingReducer:
    """The reduce's decisions: partials applied once (by id), skipped as delivered again, its transactions."""

    def __init__(self, inner: PartialApplier) -> None:
        self.inner = inner
        self.applied: set[str] = set()
        self.applied_twice = 0  # must stay 0: a partial applied by two transactions
        self.skipped = 0
        self.transactions = 0
        self.conflicts = 0

    def apply(self, partials: Sequence[Partial]) -> ReduceOutcome:
        outcome = self.inner.apply(partials)
        self.applied_twice += len(self.applied & outcome.applied)
        self.applied |= outcome.applied
        self.skipped += len(outcome.skipped)
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
    partials_written: int
    partials_applied: int
    partials_skipped: int
    partials_applied_twice: int
    partials_left: int  # still in the PartialTable once drained: must be 0
    reduce_transactions: int
    map_retried_batches: int
    reduce_retried_batches: int
    reduce_exhausted: int
    reduce_failure_messages: int
    stale_items: dict[str, tuple[int, int]]  # trade -> (highest version sent, version stored)
    aggregate_differences: dict[str, tuple[Decimal, Decimal]]
    message_count: Decimal
    aggregates: dict[str, Decimal]
    elapsed: float
    state: dict[str, RiskMessage] = field(default_factory=dict)  # the StateTable as read at the end
    remote: bool = False  # the functions ran in Lambda containers: their decisions were not seen
    state_changes: int = 0  # versioned changes in the StateTable's stream (each must count once)
    throttled_calls: int = 0  # DynamoDB write calls refused by the fault plan (independent and in bursts)
    throttling_bursts: int = 0  # bursts of refusals started
    backoff_seconds: float = 0.0  # the functions' backoff as it would have been in real time (1/100 of it slept)
    details: dict[str, Any] = field(default_factory=dict)
    aggregate_set_aside: int = 0  # changes in the aggregate poison queue (refused by DynamoDB as invalid)

    @property
    def unaccounted(self) -> int:
        return self.sent - sum(self.outcomes.values()) - self.exhausted

    @property
    def state_exact(self) -> bool:
        return not self.stale_items

    @property
    def aggregates_exact(self) -> bool:
        counted = self.state_changes if self.remote else self.outcomes.get("accepted", 0)
        return not self.aggregate_differences and self.message_count == counted and self.partials_left == 0

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
def _quiet_powertools(emit_metrics: bool) -> Iterator[None]:
    """The functions print their metrics (EMF) only when asked to, whatever the environment says."""
    saved = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false" if emit_metrics else "true"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = saved


class LocalPipeline:
    """The three functions wired as template.yaml wires them, over the local stack ``deployed``.

    ``rng``: one source of every random choice (faults, interleaving); by default each purpose gets its own
    generator seeded from ``seed``, so that a run is reproducible. The property tests pass hypothesis' own,
    so that a failing history shrinks. ``mapping_overrides``: event source mapping settings by function,
    over the template's (for example ``{"StateFunction": {"MaximumRetryAttempts": 0}}``). ``backoff_scale``:
    how much of the SDK's retry backoff is really slept (see ``faults.compress_retry_backoff``). ``on_session``:
    called with the functions' session before any client is made from it (to observe their AWS calls).
    ``state_service`` / ``aggregate_service`` / ``reduce_service``: build the functions' domain from their settings
    and session instead of the functions' own ``build_service`` (the naive versions, a lab's workbench).
    ``emit_metrics``: let the functions print their metrics (EMF lines on stdout); by default only with ``verbose``.
    ``remote_lambda``: the endpoint of ``sam local start-lambda``: the mappings invoke the functions there, in
    Lambda containers, instead of in this process (their decisions are then not seen record by record).
    """

    def __init__(
        self,
        deployed: Deployed,
        *,
        rates: FaultRates | None = None,
        seed: int = 0,
        naive: bool = False,
        verbose: bool = False,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        mapping_overrides: Mapping[str, Mapping[str, Any]] | None = None,
        backoff_scale: float = DEFAULT_BACKOFF_SCALE,
        on_session: Callable[[boto3.Session], None] | None = None,
        state_service: StateFactory | None = None,
        aggregate_service: AggregateFactory | None = None,
        reduce_service: ReduceFactory | None = None,
        emit_metrics: bool | None = None,
        remote_lambda: str | None = None,
    ) -> None:
        self.deployed = deployed
        self.rates = rates or FaultRates()
        self.seed = seed
        self.naive = naive
        self.verbose = verbose
        self.emit_metrics = verbose if emit_metrics is None else emit_metrics
        self.clock = clock
        self.template = deployed.template
        self.region = deployed.session.region_name or "us-east-1"
        self._rng = rng
        self._mapping_overrides = mapping_overrides or {}
        if naive:
            state_service = state_service or naive_state_service
            aggregate_service = aggregate_service or naive_aggregate_service(deployed.names["AggregateTable"])
        self._state_factory = state_service
        self._aggregate_factory = aggregate_service
        self._reduce_factory = reduce_service
        # The session the functions make their clients with (throttling injected, SDK backoff compressed).
        self.function_session = FaultSession(
            self.region,
            throttling=self.rates.throttling,
            rng=self._random(5),
            backoff_scale=backoff_scale,
            bursts=self.rates.throttling_bursts,
            burst_length=self.rates.burst_length,
            jitter=self._random(7),
        )
        if on_session is not None:
            on_session(self.function_session)
        self.state_table, self.poison_queue_url, decider = self._state_service()
        self.partial_table, self.marker_table, applier = self._aggregate_service()
        self.aggregate_table, reducer = self._reduce_service()
        self.state_recorder = RecordingDecider(decider)
        self.aggregate_recorder = RecordingApplier(applier)
        self.reduce_recorder = RecordingReducer(reducer)
        fault_rng = self._random(1)
        self.remote = remote_lambda is not None
        if remote_lambda is not None:
            if self.rates.throttling or self.rates.throttling_bursts:
                raise ValueError("throttling is injected in this process's SDK: not with functions in containers")
            lambda_client = remote_lambda_client(remote_lambda, self.region)
            state_handler = _remote_handler(lambda_client, STATE_FUNCTION)
            aggregate_handler = _remote_handler(lambda_client, AGGREGATE_FUNCTION)
            reduce_handler = _remote_handler(lambda_client, REDUCE_FUNCTION)
            overlap_handler = state_handler
        else:
            state_handler = self._handler(STATE_FUNCTION, self.state_recorder)
            aggregate_handler = self._handler(AGGREGATE_FUNCTION, self.aggregate_recorder)
            reduce_handler = self._handler(REDUCE_FUNCTION, self.reduce_recorder)
            # A second consumer of the same shard (resharding overlap): a handler instance of its own.
            overlap_handler = self._handler(STATE_FUNCTION, self.state_recorder)
        self.invoke_state = wrap_function(state_handler, self.rates, fault_rng, LocalContext(STATE_FUNCTION))
        self.invoke_aggregate = wrap_function(
            aggregate_handler, self.rates, fault_rng, LocalContext(AGGREGATE_FUNCTION)
        )
        self.invoke_reduce = wrap_function(reduce_handler, self.rates, fault_rng, LocalContext(REDUCE_FUNCTION))
        overlap = wrap_function(overlap_handler, FaultRates(), fault_rng, LocalContext("overlap"))
        self.state_mapping = self._mapping(STATE_FUNCTION, self.invoke_state, 2, overlap)
        self.aggregate_mapping = self._mapping(AGGREGATE_FUNCTION, self.invoke_aggregate, 3, None)
        self.reduce_mapping = self._mapping(REDUCE_FUNCTION, self.invoke_reduce, 6, None)
        self._publisher = KinesisPublisher(
            ProducerSettings.from_env(self._env(PRODUCER_FUNCTION)).stream_name, self.deployed.client("kinesis")
        )
        self._producer_handler = self._handler(PRODUCER_FUNCTION, self._publisher)
        self._published = 0  # publish calls so far
        self._polled = (0, 0, 0)  # publish calls, state batches and map batches at the last polls
        self._run_rng = self._random(0)  # which mapping goes next, how long consumers run between bursts

    # ---------------------------------------------------------------- wiring

    def _random(self, purpose: int) -> random.Random:
        return self._rng if self._rng is not None else random.Random(self.seed + purpose)

    def _module(self, function: str) -> Any:
        module = importlib.import_module(self.template.functions()[function].module)
        module.logger.setLevel("INFO" if self.verbose else "CRITICAL")
        return module

    def _handler(self, function: str, collaborator: Any) -> Callable[[dict, Any], Any]:
        """The function's real handler around its collaborator (its service, or the producer's publisher).

        Without --verbose, the functions' EMF metrics are not printed; Powertools keeps the metric set when
        POWERTOOLS_METRICS_DISABLED is on (it only clears after printing), so clear it ourselves."""
        module = self._module(function)
        handler = module.build_handler(collaborator)
        if self.emit_metrics:
            return handler

        def invoke(event: dict, context: Any) -> Any:
            try:
                return handler(event, context)
            finally:
                module.metrics.clear_metrics()

        return invoke

    def _env(self, function: str) -> dict[str, str]:
        return self.deployed.function_env(self.template.functions()[function])

    def _state_service(self) -> tuple[str, str, BatchDecider]:
        # moto numbers a table's stream records with len(items) and no lock: concurrent writes get
        # duplicate sequence numbers and break its stream iterator. DynamoDB has no such limit, so the
        # template keeps the concurrent default; against moto the StateLambda writes one trade at a time.
        settings = StateSettings.from_env({**self._env(STATE_FUNCTION), "WRITE_CONCURRENCY": "1"})
        if self._state_factory is not None:
            service = self._state_factory(settings, self.function_session)
        else:  # its backoff on throttling runs on the compressed clock of the SDK's own backoff
            clock = self.function_session.time
            pacing = Pacing(clock=clock.now, sleep=clock.sleep, rng=self._random(6))
            service = self._module(STATE_FUNCTION).build_service(settings, self.function_session, pacing=pacing)
        return settings.state_table_name, settings.poison_queue_url, service

    def _aggregate_service(self) -> tuple[str, str, ChangeApplier]:
        settings = AggregateSettings.from_env(self._env(AGGREGATE_FUNCTION))
        self.aggregation_order = settings.aggregation_order
        self.aggregate_poison_queue_url = settings.poison_queue_url
        build = self._aggregate_factory or self._module(AGGREGATE_FUNCTION).build_service
        return settings.partial_table_name, settings.marker_table_name, build(settings, self.function_session)

    def _reduce_service(self) -> tuple[str, PartialApplier]:
        settings = ReduceSettings.from_env(self._env(REDUCE_FUNCTION))
        build = self._reduce_factory or self._module(REDUCE_FUNCTION).build_service
        return settings.aggregate_table_name, build(settings, self.function_session)

    def _mapping(
        self, function: str, invoke: Callable[[dict], Any], purpose: int, overlap: Callable[[dict], Any] | None
    ) -> EventSourceMapping:
        source = self.template.event_source(function)
        if function in self._mapping_overrides:
            source = replace(source, properties={**source.properties, **self._mapping_overrides[function]})
        if source.kind == "Kinesis":
            name, arn = self.deployed.names[source.source], self.deployed.arns[source.source]
            reader: Any = KinesisReader(self.deployed.client("kinesis"), name, arn, self.region)
        else:
            arn = self.deployed.stream_arns[source.source]
            reader = DynamoDBStreamReader(self.deployed.client("dynamodbstreams"), arn)
        return EventSourceMapping(
            source,
            reader,
            invoke,
            destination=_destination(self.deployed.client("sqs"), self.deployed, source.on_failure),
            source_arn=arn,
            rng=self._random(purpose),
            faults=DeliveryFaults(lost_checkpoint=self.rates.lost_checkpoint, overlap=self.rates.overlap),
            overlap_invoke=overlap,
            clock=self.clock,
        )

    # ---------------------------------------------------------------- running

    def invoke_producer(self, event: dict) -> Any:
        return self._producer_handler(event, LocalContext(PRODUCER_FUNCTION))

    def publish(self, sends: Sequence[Send]) -> None:
        """Messages go through the real producer handler; raw poison bytes are put as they are."""
        self._published += 1
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
        rng = self._run_rng
        steps = 0
        with _quiet_powertools(self.emit_metrics):
            for start in range(0, len(sends), burst):
                self.publish(sends[start : start + burst])
                # Let the consumers run a while before the next burst, as a live stream would.
                for _ in range(rng.randint(0, 2 * max(1, burst // self.state_mapping.config.batch_size))):
                    steps += self._step(rng)
                if progress:
                    progress(min(len(sends), start + burst), len(sends))
            while self._step(rng):
                steps += 1
                if steps > max_steps:
                    raise RuntimeError(f"the pipeline did not settle after {max_steps} batches")
                if progress and steps % 20 == 0:
                    progress(len(sends), len(sends))
        return self.report(sends, time.perf_counter() - started)

    def drain(self, max_steps: int = 2_000_000) -> int:
        """Deliver what the streams hold now, whoever put it there (another producer, the game), until both
        mappings are idle. Returns the number of batches delivered."""
        self._published += 1  # records may have arrived without our publish: read the stream again
        steps = 0
        with _quiet_powertools(self.emit_metrics):
            while self._step(self._run_rng):
                steps += 1
                if steps > max_steps:
                    raise RuntimeError(f"the pipeline did not settle after {max_steps} batches")
        return steps

    def _step(self, rng: random.Random) -> int:
        """Deliver one batch of one mapping. A mapping reads its stream only when it may hold new records:
        the risk stream after a publish, a table's stream after the function writing it handled a batch."""
        published, state_polled, map_polled = self._polled
        if self._published != published:
            self.state_mapping.poll()
        state_batches = self.state_mapping.stats.invocations + self.state_mapping.stats.overlap_invocations
        if state_batches != state_polled:
            self.aggregate_mapping.poll()
        map_batches = self.aggregate_mapping.stats.invocations
        if map_batches != map_polled:
            self.reduce_mapping.poll()
        self._polled = (self._published, state_batches, map_batches)
        mappings = (self.state_mapping, self.aggregate_mapping, self.reduce_mapping)
        busy = [m for m in mappings if m.has_work()]
        if not busy:
            return 0
        rng.choice(busy).step()
        return 1

    # ---------------------------------------------------------------- checking

    def report(self, sends: Sequence[Send], elapsed: float) -> PipelineReport:
        messages = [s.message for s in sends if s.message is not None]
        latest = newest_per_trade(messages)
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
        reduce_stats = self.reduce_mapping.stats
        if self.remote:  # decided inside the containers: known only as committed, or given up
            exhausted = len(state_stats.records_to_destination)
            outcomes = Counter({"processed": len(state_stats.committed) - exhausted})
        else:
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
            lost_checkpoints=state_stats.lost_checkpoints
            + aggregate_stats.lost_checkpoints
            + reduce_stats.lost_checkpoints,
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
            partials_written=self.aggregate_recorder.partials,
            partials_applied=len(self.reduce_recorder.applied),
            partials_skipped=self.reduce_recorder.skipped,
            partials_applied_twice=self.reduce_recorder.applied_twice,
            partials_left=self.count_partials_left(),
            reduce_transactions=self.reduce_recorder.transactions,
            map_retried_batches=aggregate_stats.function_errors + aggregate_stats.partial_failures,
            reduce_retried_batches=reduce_stats.function_errors + reduce_stats.partial_failures,
            reduce_exhausted=len(reduce_stats.records_to_destination),
            reduce_failure_messages=self.queue_depth(self._queue_of(REDUCE_FUNCTION)),
            stale_items=stale,
            aggregate_differences=compare_aggregates(expected, aggregates),
            message_count=message_count,
            aggregates=aggregates,
            elapsed=elapsed,
            state=stored,
            remote=self.remote,
            state_changes=self.count_state_changes(),
            aggregate_set_aside=self.queue_depth(self.aggregate_poison_queue_url),
            throttled_calls=self.function_session.throttling.refused,
            throttling_bursts=self.function_session.throttling.bursts_started,
            backoff_seconds=self.function_session.time.now(),
        )

    def _queue_of(self, function: str) -> str:
        destination = self.template.event_source(function).on_failure
        return self.deployed.names[destination] if destination else ""

    def count_state_changes(self) -> int:
        """The StateTable stream's changes that carry a trade version (what message_count must count)."""
        source = self.template.event_source(AGGREGATE_FUNCTION).source
        reader = DynamoDBStreamReader(self.deployed.client("dynamodbstreams"), self.deployed.stream_arns[source])
        return sum(1 for r in reader.poll() if "Version" in r.lambda_record["dynamodb"].get("NewImage", {}))

    def count_partials_left(self) -> int:
        """Partials not applied (yet): the PartialTable's items."""
        client = self.deployed.client("dynamodb")
        pages = client.get_paginator("scan").paginate(TableName=self.partial_table, Select="COUNT")
        return sum(page["Count"] for page in pages)

    def queue_depth(self, url: str) -> int:
        return queue_depth(self.deployed.client("sqs"), url) if url else 0

    def read_state(self) -> dict[str, RiskMessage]:
        return read_state(self.deployed.client("dynamodb"), self.state_table)

    def read_aggregates(self) -> dict[str, Decimal]:
        return read_aggregates(self.deployed.client("dynamodb"), self.aggregate_table)


class RemoteFunctionError(RuntimeError):
    """The function failed in its container (Lambda's FunctionError): the mapping retries, as Lambda would."""


def remote_lambda_client(endpoint: str, region: str) -> Any:
    config = Config(read_timeout=300, connect_timeout=10, retries={"mode": "standard", "total_max_attempts": 1})
    return boto3.client("lambda", endpoint_url=endpoint, region_name=region, config=config)


def _remote_handler(client: Any, function: str) -> Callable[[dict, Any], Any]:
    def invoke(event: dict, context: Any) -> Any:
        response = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise RemoteFunctionError(f"{function}: {str(payload)[:300]}")
        return payload

    return invoke


def _destination(sqs: Any, deployed: Deployed, logical: str | None) -> SqsDestination | None:
    return SqsDestination(sqs, deployed.names[logical]) if logical else None
