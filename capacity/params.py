"""Every parameter of the capacity model, with its source: a documented AWS fact, the template, the project's
configuration, a measurement made on this machine, or an assumption (the model shows its sensitivity to the two
least certain ones: the transaction duration and Lambda's invocation overhead)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from localpipe.stack.template import Template
from riskpipe.config import AggregateSettings, StateSettings

DOC = "AWS documentation"
TEMPLATE = "template.yaml"
CONFIG = "riskpipe.config defaults"
MEASURED = "measured here"
ASSUMED = "assumption"


def _p(default: Any, source: str, meaning: str) -> Any:
    return field(default=default, metadata={"source": source, "meaning": meaning})


@dataclass(frozen=True)
class Params:
    # Kinesis
    shard_records_per_second: int = _p(1000, DOC, "records a shard takes in a second")
    shard_bytes_per_second: int = _p(1_000_000, DOC, "bytes a shard takes in a second")
    shard_fill: float = _p(0.8, ASSUMED, "deployment: shards = offered load / (1,000 x this)")
    kinesis_idle_poll: float = _p(1.0, DOC, "s between polls of an idle Kinesis shard (at once after a batch)")
    kinesis_busy_poll: float = _p(0.2, DOC, "s between GetRecords while a batch gathers (5 calls/s a shard)")
    put_retry_delay: float = _p(0.1, ASSUMED, "s before the producer re-sends a record refused by a full shard")
    # event source mappings
    state_batch_size: int = _p(100, TEMPLATE, "StateBatchSize")
    state_window: float = _p(1.0, TEMPLATE, "StateLambda MaximumBatchingWindowInSeconds")
    state_parallelization: int = _p(4, ASSUMED, "ParallelizationFactor of the Kinesis mapping (template default 1)")
    aggregate_batch_size: int = _p(1000, TEMPLATE, "AggregateBatchSize (also the map's)")
    aggregate_window: float = _p(1.0, TEMPLATE, "aggregate MaximumBatchingWindowInSeconds (also the map's)")
    aggregate_parallelization: int = _p(1, TEMPLATE, "ParallelizationFactor of the StateTable stream mapping")
    stream_poll: float = _p(0.25, DOC, "s between polls of a DynamoDB stream shard (4 a second)")
    stream_max_records: int = _p(1000, DOC, "records one DynamoDB Streams GetRecords returns at most")
    reduce_batch_size: int = _p(1000, TEMPLATE, "BatchSize of the reduce's mapping: partials per invocation at most")
    reduce_window: float = _p(1.0, TEMPLATE, "reduce MaximumBatchingWindowInSeconds")
    # Lambda
    invoke_overhead: float = _p(0.020, ASSUMED, "s of Lambda invocation overhead per batch (warm)")
    state_cpu_per_record: float = _p(0.0028, MEASURED, "s of StateLambda CPU per record (MiniStack run)")
    aggregate_cpu_per_record: float = _p(0.0004, MEASURED, "s of aggregate CPU per record (MiniStack run; map too)")
    reduce_cpu_per_partial: float = _p(
        0.0001, MEASURED, "s of reduce CPU per partial (parse + plan 0.05 ms here, plus its share of the request)"
    )
    write_concurrency: int = _p(StateSettings.model_fields["write_concurrency"].default, CONFIG, "WRITE_CONCURRENCY")
    concurrency_quota: int = _p(1000, DOC, "concurrent executions per account and region (default quota)")
    # DynamoDB
    write_latency: float = _p(0.008, ASSUMED, "s per UpdateItem (single-digit ms documented)")
    transaction_duration: float = _p(0.025, ASSUMED, "s a TransactWriteItems holds its items (not published)")
    cancel_latency: float = _p(0.008, ASSUMED, "s before a cancelled transaction answers")
    partition_wcu: int = _p(1000, DOC, "write units a second per partition, so per item")
    table_wcu_quota: int = _p(40_000, DOC, "write units a second per on-demand table (default quota)")
    partition_fill: float = _p(
        0.5, ASSUMED, "deployment: partitions for twice the peak write units (on-demand serves 2x its last peak)"
    )
    transaction_max_attempts: int = _p(
        AggregateSettings.model_fields["transaction_max_attempts"].default,
        CONFIG,
        "attempts of a conflicting transaction",
    )
    sdk_max_attempts: int = _p(
        AggregateSettings.model_fields["dynamodb_max_attempts"].default, CONFIG, "SDK attempts of a throttled request"
    )
    # the simulation itself
    slice_shards: int = _p(4, ASSUMED, "Kinesis shards simulated; the rest of the fleet by symmetry (see model)")
    load_seconds: float = _p(10.0, ASSUMED, "s of offered load simulated")
    warm_up: float = _p(4.0, ASSUMED, "s before throughput is measured")
    drain_seconds: float = _p(6.0, ASSUMED, "s simulated after the load stops (latency of the last messages)")

    def raised(self) -> Params:
        """The quotas AWS raises on request, raised out of the way (per-partition and per-item limits stay)."""
        return replace(self, table_wcu_quota=10**7, concurrency_quota=10**6)

    @classmethod
    def from_template(cls, template: Template | None = None) -> Params:
        """The defaults, with the batch sizes, windows and parallelization read from template.yaml."""
        template = template or Template.load()
        state = template.event_source("StateFunction")
        aggregate = template.event_source("AggregateFunction")
        reduce = template.event_source("ReduceFunction")
        return cls(
            state_batch_size=state.batch_size,
            state_window=float(state.setting("MaximumBatchingWindowInSeconds", 0)),
            aggregate_batch_size=aggregate.batch_size,
            aggregate_window=float(aggregate.setting("MaximumBatchingWindowInSeconds", 0)),
            aggregate_parallelization=aggregate.parallelization_factor,
            reduce_batch_size=reduce.batch_size,
            reduce_window=float(reduce.setting("MaximumBatchingWindowInSeconds", 0)),
        )


def parameter_table(params: Params) -> list[tuple[str, Any, str, str]]:
    """(name, value, source, meaning) for every parameter: the README's table."""
    return [(f.name, getattr(params, f.name), f.metadata["source"], f.metadata["meaning"]) for f in fields(params)]
