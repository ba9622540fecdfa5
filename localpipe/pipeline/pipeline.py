"""The whole pipeline on one machine: producer -> Kinesis -> StateLambda -> StateTable -> stream -> aggregate (the
map) -> (PartialTable -> stream -> combining lanes, with Combining "true") -> ReduceTable -> stream -> reduce ->
AggregateTable.

Resources come from template.yaml (created on moto), the functions are the real handlers (their own ``build_service``;
where they run: ``backend.py``), the stream triggers ``EventSourceMapping`` runners configured from the template's
event sources. Every fault comes from one seeded ``faults.FaultPlan``, so a scenario is reproducible. The traffic is
``faults/scenario.py``'s, the choices of a run ``options.PipelineOptions``, its report ``report/``'s (``record``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from localpipe.esm.destinations import SqsDestination
from localpipe.esm.mapping import EventSourceMapping
from localpipe.esm.streams import DynamoDBStreamReader, KinesisReader
from localpipe.faults import rates as purpose
from localpipe.faults.rates import FaultRates
from localpipe.faults.scenario import Send
from localpipe.pipeline import record as counted
from localpipe.pipeline.backend import FunctionModules
from localpipe.pipeline.naive import naive_aggregate_service, naive_state_service
from localpipe.pipeline.options import PipelineOptions
from localpipe.pipeline.recording import (
    Recorders,
    RecordingApplier,
    RecordingDecider,
    RecordingReducer,
    quiet_powertools,
)
from localpipe.report.model import PipelineReport, RunRecord, build_report
from localpipe.stack.lambda_context import (
    AGGREGATE_FUNCTION,
    COMBINE_FUNCTION,
    PRODUCER_FUNCTION,
    REDUCE_FUNCTION,
    STATE_FUNCTION,
    LocalContext,
)
from localpipe.stack.local import stack_tables
from localpipe.stack.readback import StackTables, read_aggregates, read_state
from localpipe.stack.resources import Deployed
from riskpipe.config import AggregateSettings, CombineSettings, ProducerSettings, ReduceSettings, StateSettings
from riskpipe.models import RiskMessage
from riskpipe.publisher import KinesisPublisher
from riskpipe.throttling import Pacing


class LocalPipeline:
    """The functions wired as template.yaml wires them, over the local stack ``deployed``, as ``options``
    say (or, for short, ``PipelineOptions.of(**fields)``: ``LocalPipeline(deployed, rates=..., seed=...)``)."""

    def __init__(self, deployed: Deployed, options: PipelineOptions | None = None, **fields: Any) -> None:
        self.deployed = deployed
        self.options = options or PipelineOptions.of(**fields)
        self.faults = self.options.faults
        self.backend = self.options.backend
        self.backend.check(self.faults.rates)
        self.template = deployed.template
        self.region = deployed.session.region_name or "us-east-1"
        self.functions = FunctionModules(
            self.template, verbose=self.options.verbose, emit_metrics=self.options.metrics_printed
        )
        # The session the functions make their clients with (throttling injected, SDK backoff compressed).
        self.function_session = self.faults.session(self.region, self.options.backoff_scale)
        if self.options.on_session is not None:
            self.options.on_session(self.function_session)
        self.state_recorder = RecordingDecider(self._state_service())
        self.aggregate_recorder = RecordingApplier(self._aggregate_service())
        self.reduce_recorder = RecordingReducer(self._reduce_service())
        combining = COMBINE_FUNCTION in self.template.functions()  # the template's Combining parameter
        combine = self.combine_recorder = RecordingReducer(self._combine_service()) if combining else None
        self.recorders = Recorders(self.state_recorder, self.aggregate_recorder, self.reduce_recorder, combine)
        self._wire_mappings()
        producer_kinesis = self._session(PRODUCER_FUNCTION, self.deployed.session).client("kinesis")
        stream = ProducerSettings.from_env(self._env(PRODUCER_FUNCTION)).stream_name
        publisher = KinesisPublisher(stream, producer_kinesis)
        self._producer_handler = self.functions.handler(PRODUCER_FUNCTION, publisher)
        self._published = 0  # publish calls so far
        self._polled = (0, 0, 0, 0)  # publish calls, state, map and combine batches at the last polls
        # Which mapping goes next, and how long the consumers run between bursts.
        self._run_rng = self.faults.generator(purpose.RUN_LOOP)

    # ---------------------------------------------------------------- wiring

    def _session(self, function: str, base: Any = None) -> Any:
        """The session ``function`` makes its clients with (``PipelineOptions.function_session``)."""
        base = base or self.function_session
        hook = self.options.function_session
        return hook(function, base) if hook else base

    def _env(self, function: str) -> dict[str, str]:
        return self.deployed.function_env(self.template.functions()[function])

    def _state_service(self) -> Any:
        # against moto the StateLambda writes one trade at a time: local_stack() deploys with moto's workaround
        settings = StateSettings.from_env(self._env(STATE_FUNCTION))
        self.state_table, self.poison_queue_url = settings.state_table_name, settings.poison_queue_url
        factory = self.options.state_service or (naive_state_service if self.options.naive else None)
        session = self._session(STATE_FUNCTION)
        if factory is not None:
            return factory(settings, session)
        # its backoff on throttling runs on the compressed clock of the SDK's own backoff
        clock = self.function_session.time
        pacing = Pacing(clock=clock.now, sleep=clock.sleep, rng=self.faults.generator(purpose.PACING))
        return self.functions.module(STATE_FUNCTION).build_service(settings, session, pacing=pacing)

    def _aggregate_service(self) -> Any:
        settings = AggregateSettings.from_env(self._env(AGGREGATE_FUNCTION))
        self.aggregation_order = settings.aggregation_order
        self.aggregate_poison_queue_url = settings.poison_queue_url
        self.marker_table = settings.marker_table_name
        build = self.options.aggregate_service
        if build is None and self.options.naive:
            build = naive_aggregate_service(self.deployed.names["AggregateTable"])
        build = build or self.functions.module(AGGREGATE_FUNCTION).build_service
        return build(settings, self._session(AGGREGATE_FUNCTION))

    def _reduce_service(self) -> Any:
        settings = ReduceSettings.from_env(self._env(REDUCE_FUNCTION))
        self.aggregate_table = settings.aggregate_table_name
        build = self.options.reduce_service or self.functions.module(REDUCE_FUNCTION).build_service
        return build(settings, self._session(REDUCE_FUNCTION))

    def _combine_service(self) -> Any:
        settings = CombineSettings.from_env(self._env(COMBINE_FUNCTION))
        return self.functions.module(COMBINE_FUNCTION).build_service(settings, self._session(COMBINE_FUNCTION))

    def _wire_mappings(self) -> None:
        """The handlers where the backend runs them, the function faults around them, and their mappings."""
        handlers = self.backend.handlers(self.functions, self.recorders)
        faults, rates = self.faults.function_faults(), self.faults.rates
        self.invoke_state = faults.wrap(handlers.state, rates, LocalContext(STATE_FUNCTION))
        self.invoke_aggregate = faults.wrap(handlers.aggregate, rates, LocalContext(AGGREGATE_FUNCTION))
        self.invoke_reduce = faults.wrap(handlers.reduce, rates, LocalContext(REDUCE_FUNCTION))
        overlap = faults.wrap(handlers.overlap, FaultRates(), LocalContext("overlap"))
        self.state_mapping = self._mapping(STATE_FUNCTION, self.invoke_state, purpose.STATE_MAPPING, overlap)
        self.aggregate_mapping = self._mapping(AGGREGATE_FUNCTION, self.invoke_aggregate, purpose.MAP_MAPPING, None)
        self.reduce_mapping = self._mapping(REDUCE_FUNCTION, self.invoke_reduce, purpose.REDUCE_MAPPING, None)
        self.mappings: tuple[EventSourceMapping, ...] = (
            self.state_mapping,
            self.aggregate_mapping,
            self.reduce_mapping,
        )
        self.combine_mapping: EventSourceMapping | None = None
        if handlers.combine is not None:  # last: without it, every other choice of the run is as it was
            self.invoke_combine = faults.wrap(handlers.combine, rates, LocalContext(COMBINE_FUNCTION))
            self.combine_mapping = self._mapping(COMBINE_FUNCTION, self.invoke_combine, purpose.COMBINE_MAPPING, None)
            self.mappings = (*self.mappings, self.combine_mapping)

    def _mapping(
        self, function: str, invoke: Callable[[dict], Any], purpose: int, overlap: Callable[[dict], Any] | None
    ) -> EventSourceMapping:
        source = self.template.event_source(function)
        if function in self.options.mapping_overrides:
            source = replace(source, properties={**source.properties, **self.options.mapping_overrides[function]})
        if source.kind == "Kinesis":
            name, arn = self.deployed.names[source.source], self.deployed.arns[source.source]
            reader: Any = KinesisReader(self.deployed.client("kinesis"), name, arn, self.region)
        else:
            arn = self.deployed.stream_arns[source.source]
            reader = DynamoDBStreamReader(self.deployed.client("dynamodbstreams"), arn)
        on_failure = source.on_failure
        rng = self.faults.generator(purpose)
        return EventSourceMapping(
            source,
            reader,
            invoke,
            destination=SqsDestination(self.deployed.client("sqs"), self.deployed.names[on_failure])
            if on_failure
            else None,
            source_arn=arn,
            rng=rng,
            faults=self.faults.delivery(rng),
            overlap_invoke=overlap,
            clock=self.options.clock,
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
                self.invoke_producer({"messages": [m.model_dump() for m in run]})
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
        with quiet_powertools(self.options.metrics_printed):
            for start in range(0, len(sends), burst):
                self.publish(sends[start : start + burst])
                # Let the consumers run a while before the next burst, as a live stream would.
                for _ in range(rng.randint(0, 2 * max(1, burst // self.state_mapping.config.batch_size))):
                    self._step()
                if progress:
                    progress(min(len(sends), start + burst), len(sends))
            self._settle(max_steps, lambda steps: progress and steps % 20 == 0 and progress(len(sends), len(sends)))
        return build_report(self.record(sends, time.perf_counter() - started))

    def drain(self, max_steps: int = 2_000_000) -> int:
        """Deliver what the streams hold now, whoever put it there (another producer, the game, a redrive, a write
        to a table), until the mappings are idle. Returns the number of batches delivered."""
        self._polled = (-1, -1, -1, -1)  # records may have arrived without us (another producer, a table written to)
        with quiet_powertools(self.options.metrics_printed):
            return self._settle(max_steps, lambda steps: None)

    def _settle(self, max_steps: int, tick: Callable[[int], Any]) -> int:
        steps = 0
        while self._step():
            steps += 1
            if steps > max_steps:
                raise RuntimeError(f"the pipeline did not settle after {max_steps} batches")
            tick(steps)
        return steps

    def _step(self) -> int:
        """Deliver one batch of one mapping."""
        self._poll()
        busy = [m for m in self.mappings if m.has_work()]
        if busy:
            self._run_rng.choice(busy).step()
        return 1 if busy else 0

    def _poll(self) -> None:
        """A mapping reads its stream only when it may hold new records: after a publish, or a writer's batch."""
        published, state_polled, map_polled, combine_polled = self._polled
        if self._published != published:
            self.state_mapping.poll()
        state_batches = self.state_mapping.stats.invocations + self.state_mapping.stats.overlap_invocations
        if state_batches != state_polled:
            self.aggregate_mapping.poll()
        map_batches = self.aggregate_mapping.stats.invocations
        combine_batches = self.combine_mapping.stats.invocations if self.combine_mapping else 0
        if map_batches != map_polled and self.combine_mapping:
            self.combine_mapping.poll()
        if map_batches != map_polled or combine_batches != combine_polled:
            self.reduce_mapping.poll()
        self._polled = (self._published, state_batches, map_batches, combine_batches)

    # ---------------------------------------------------------------- the run's record, read from the tables and queues

    def record(self, sends: Sequence[Send], elapsed: float) -> RunRecord:
        """What the run sent, the tables and queues as they are now, and what every part counted: the report's
        only input."""
        state_changes = counted.count_state_changes(self.deployed)
        session, dynamodb = self.function_session, self.deployed.client("dynamodb")
        return RunRecord(
            naive=self.options.naive,
            sent=len(sends),
            messages=[s.message for s in sends if s.message is not None],
            state=read_state(dynamodb, self.state_table),
            aggregates=read_aggregates(dynamodb, self.aggregate_table),
            order=self.aggregation_order,
            decisions=self.backend.decisions(self.state_mapping.stats, self.state_recorder, state_changes),
            rows=self.backend.rows,
            state_changes=state_changes,
            elapsed=elapsed,
            throttled_calls=session.throttling.refused,
            throttling_bursts=session.throttling.bursts_started,
            backoff_seconds=session.time.now(),
            counts=counted.run_counts(self),
        )

    def stack_tables(self) -> StackTables:
        """The tables as ``reconcile`` reads them."""
        return stack_tables(self.deployed)
