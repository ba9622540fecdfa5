"""Every parameter of the capacity model, with its source: a documented AWS fact, the template (as samconfig.toml's
``prod`` environment deploys it), the project's configuration, a measurement made on this machine, or an
assumption. The model shows its sensitivity to the least certain ones (the transaction duration, Lambda's
invocation overhead, the throttled pollers' backoff, DynamoDB Streams' propagation delay), and every headline
figure is read at the pessimistic corner (``Params.pessimistic``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

from localpipe.stack.template import TEMPLATE_PATH, EventSource, Template
from localpipe.stack.translated import environments
from riskpipe.config import AggregateSettings, StateSettings

DOC = "AWS documentation"
TEMPLATE = "template.yaml (samconfig.toml prod)"
CONFIG = "riskpipe.config defaults"
MEASURED = "measured here"
ASSUMED = "assumption"
SOURCES = (DOC, TEMPLATE, CONFIG, MEASURED, ASSUMED)
ENVIRONMENT = "prod"  # the samconfig.toml environment whose parameters the model deploys
VCPU_MEMORY = 1769  # MB at which a Lambda function has one vCPU (documented)
TRANSACT_PESSIMISTIC = 0.050
OVERHEAD_PESSIMISTIC = 0.100


def _p(default: Any, source: str, meaning: str) -> Any:
    return field(default=default, metadata={"source": source, "meaning": meaning})


@dataclass(frozen=True)
class Params:
    # Kinesis
    shard_records_per_second: int = _p(1000, DOC, "records a shard takes in a second")
    shard_bytes_per_second: int = _p(1_000_000, DOC, "bytes a shard takes in a second")
    shard_read_bytes_per_second: int = _p(2_000_000, DOC, "bytes a second read from a shard, all consumers together")
    kinesis_get_records: int = _p(10_000, DOC, "records one Kinesis GetRecords returns at most (and 10 MB)")
    kinesis_get_bytes: int = _p(10_000_000, DOC, "bytes one Kinesis GetRecords returns at most")
    shard_fill: float = _p(0.8, ASSUMED, "deployment: ShardCount = offered load / (1,000 x this)")
    shard_quota: int = _p(500, DOC, "Kinesis shards per account and Region (default quota; 200 outside 3 Regions)")
    kinesis_idle_poll: float = _p(1.0, DOC, "s between polls of an idle Kinesis shard (at once after a batch)")
    kinesis_busy_poll: float = _p(0.2, DOC, "s between GetRecords while records remain (5 calls a second a shard)")
    kinesis_propagation: float = _p(0.0, DOC, "s from a put to the record being readable ('immediately')")
    put_retry_delay: float = _p(0.1, ASSUMED, "s before the producer re-sends a record refused by a full shard")
    # event source mappings (template.yaml, the prod environment's parameters)
    state_batch_size: int = _p(100, TEMPLATE, "StateBatchSize")
    state_window: float = _p(1.0, TEMPLATE, "the Kinesis mapping's MaximumBatchingWindowInSeconds")
    state_parallelization: int = _p(1, TEMPLATE, "StateParallelizationFactor")
    aggregate_batch_size: int = _p(1000, TEMPLATE, "AggregateBatchSize (the map's)")
    aggregate_window: float = _p(1.0, TEMPLATE, "the map's MaximumBatchingWindowInSeconds")
    aggregate_parallelization: int = _p(1, TEMPLATE, "AggregateParallelizationFactor")
    combine_batch_size: int = _p(1000, TEMPLATE, "BatchSize of the combining lanes' mapping")
    combine_window: float = _p(1.0, TEMPLATE, "the combining lanes' MaximumBatchingWindowInSeconds")
    combine_parallelization: int = _p(1, TEMPLATE, "CombineParallelizationFactor")
    reduce_batch_size: int = _p(1000, TEMPLATE, "BatchSize of the reduce's mapping: partials per invocation at most")
    reduce_window: float = _p(1.0, TEMPLATE, "the reduce's MaximumBatchingWindowInSeconds")
    reduce_reserved: int = _p(1, TEMPLATE, "ReservedConcurrentExecutions of the reduce")
    stream_poll: float = _p(0.25, DOC, "s between polls of a DynamoDB stream shard (4 a second)")
    stream_max_records: int = _p(1000, DOC, "records one DynamoDB Streams GetRecords returns at most")
    stream_max_bytes: int = _p(1_000_000, DOC, "bytes one DynamoDB Streams GetRecords returns at most")
    stream_propagation: float = _p(
        0.5, ASSUMED, "s from a write to its stream record being readable ('near-real time')"
    )
    # Lambda
    state_memory: int = _p(1769, TEMPLATE, "StateFunction MemorySize (MB)")
    aggregate_memory: int = _p(1769, TEMPLATE, "AggregateFunction (map) MemorySize (MB)")
    combine_memory: int = _p(1769, TEMPLATE, "CombineFunction MemorySize (MB)")
    reduce_memory: int = _p(1769, TEMPLATE, "ReduceFunction MemorySize (MB)")
    vcpu_memory: int = _p(VCPU_MEMORY, DOC, "MB at which a function has one vCPU (CPU is proportional below)")
    invoke_overhead: float = _p(0.020, ASSUMED, "s of Lambda invocation overhead per batch (warm)")
    state_cpu_per_record: float = _p(0.0028, MEASURED, "s of StateLambda CPU per record on one core (MiniStack run)")
    aggregate_cpu_per_record: float = _p(0.0004, MEASURED, "s of map CPU per record on one core (MiniStack run)")
    reduce_cpu_per_partial: float = _p(
        0.0001, MEASURED, "s of reduce CPU per partial on one core (parse + plan 0.05 ms, plus its share of a request)"
    )
    combine_cpu_per_partial: float = _p(0.0001, ASSUMED, "s of combine CPU per partial on one core (as the reduce's)")
    write_concurrency: int = _p(StateSettings.model_fields["write_concurrency"].default, CONFIG, "WRITE_CONCURRENCY")
    concurrency_quota: int = _p(1000, DOC, "concurrent executions per account and Region (default quota)")
    throttle_backoff: float = _p(1.0, ASSUMED, "s a throttled poller waits first, doubling (not published for streams)")
    throttle_backoff_cap: float = _p(300.0, ASSUMED, "s a throttled poller waits at most (Lambda's async figures)")
    # DynamoDB
    write_latency: float = _p(0.008, ASSUMED, "s per UpdateItem (single-digit ms documented)")
    transaction_duration: float = _p(0.025, ASSUMED, "s a TransactWriteItems holds its items (not published)")
    cancel_latency: float = _p(0.008, ASSUMED, "s before a cancelled transaction answers")
    partition_wcu: int = _p(1000, DOC, "write units a second per partition, so per item")
    table_wcu_quota: int = _p(40_000, DOC, "write units a second per on-demand table (default quota)")
    quota_burst: float = _p(0.1, ASSUMED, "s of a table's quota it may bank (a quota is a rate; none is documented)")
    new_table_wcu: int = _p(4000, DOC, "write units a second a new on-demand table serves (its warm throughput)")
    warm_headroom: float = _p(2.0, ASSUMED, "deployment: each table pre-warmed (WarmThroughput) to this x its need")
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
    warm_up: float = _p(20.0, ASSUMED, "s of load before the steady window (the pipeline fills: p99 under 10 s)")
    steady_seconds: float = _p(60.0, ASSUMED, "s of the steady window: sustained throughput and latency are read there")
    drain_seconds: float = _p(15.0, ASSUMED, "s simulated after the load stops (the last messages' latency)")
    # names whose template source is missing (a stage the template does not have yet): printed as assumed
    not_in_template: frozenset[str] = field(default=frozenset(), metadata={"source": "", "meaning": ""})

    @property
    def load_seconds(self) -> float:
        return self.warm_up + self.steady_seconds

    @property
    def window(self) -> tuple[float, float]:
        return self.warm_up, self.load_seconds

    def cpu_share(self, memory: int) -> float:
        """The share of one vCPU a function of ``memory`` MB has (a Python handler uses one at most)."""
        return min(1.0, memory / self.vcpu_memory)

    def raised(self) -> Params:
        """The quotas AWS raises on request, raised out of the way: each table's write throughput, the account's
        concurrency and its Kinesis shards (per-partition, per-item and per-shard limits stay)."""
        return replace(self, table_wcu_quota=10**8, concurrency_quota=10**7, shard_quota=10**6)

    def pessimistic(self) -> Params:
        """The sensitivity table's pessimistic corner: 50 ms transactions, 100 ms of invocation overhead."""
        return replace(self, transaction_duration=TRANSACT_PESSIMISTIC, invoke_overhead=OVERHEAD_PESSIMISTIC)

    @classmethod
    def from_template(cls, template: Template | None = None, path: Path = TEMPLATE_PATH) -> Params:
        """The defaults, with the mappings' batch sizes, windows and parallelization and the functions' memory read
        from the template with the prod environment's parameters (the combining level's with it turned on)."""
        template = template or deployed_template(path)
        raw = raw_template(path)
        settings = _mapping_settings(template)
        missing = {
            f"{name}_{what}"
            for name, function in FUNCTIONS.items()
            if function not in raw["Resources"]
            for what in ("batch_size", "window", "parallelization", "memory")
        }
        return cls(
            **settings,
            **{f"{name}_memory": _memory(raw, function) for name, function in FUNCTIONS.items()},
            reduce_reserved=int(
                raw["Resources"]["ReduceFunction"]["Properties"].get("ReservedConcurrentExecutions", 0)
            ),
            not_in_template=frozenset(missing),
        )


FUNCTIONS = {  # the model's name of a stage -> its function in the template
    "state": "StateFunction",
    "aggregate": "AggregateFunction",
    "combine": "CombineFunction",
    "reduce": "ReduceFunction",
}


def deployed_template(path: Path = TEMPLATE_PATH, *, combining: bool = True) -> Template:
    """The template with samconfig.toml's prod parameters, and ``Combining`` as said (by default "true": the
    combining level's resources and settings are read too)."""
    overrides: dict[str, Any] = dict(environments()[ENVIRONMENT])
    parameters = raw_template(path).get("Parameters", {})
    if "Combining" in parameters:
        overrides["Combining"] = "true" if combining else "false"
    return Template.load(path, overrides={k: v for k, v in overrides.items() if k in parameters})


@functools.cache
def raw_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml as cfn-lint reads it (the tags as their intrinsic functions), read once: not to be changed."""
    return dict(load_cfn_yaml(str(path)))


def _memory(raw: Mapping[str, Any], function: str) -> int:
    """A function's MemorySize: its own, else the Globals'."""
    default = raw.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    resource = raw["Resources"].get(function, {"Properties": {}})
    return int(resource["Properties"].get("MemorySize", default))


def _window(source: EventSource) -> float:
    return float(source.setting("MaximumBatchingWindowInSeconds", 0))


def _mapping_settings(template: Template) -> dict[str, Any]:
    """Batch size, window and parallelization of each stage's event source mapping (those the template has)."""
    functions = {s.function for s in template.event_sources()}
    settings: dict[str, Any] = {}
    for name, function in FUNCTIONS.items():
        if function not in functions:
            continue
        source = template.event_source(function)
        settings[f"{name}_batch_size"] = source.batch_size
        settings[f"{name}_window"] = _window(source)
        if name != "reduce":
            settings[f"{name}_parallelization"] = source.parallelization_factor
    return settings


def parameter_table(params: Params) -> list[tuple[str, Any, str, str]]:
    """(name, value, source, meaning) for every parameter: the assumptions table of docs/performance.md. A value the
    template does not have yet (a stage it lacks) is printed as assumed, with the default it takes."""
    rows = []
    for f in fields(params):
        if f.name == "not_in_template":
            continue
        source, meaning = f.metadata["source"], f.metadata["meaning"]
        if f.name in params.not_in_template:
            source, meaning = ASSUMED, f"{meaning} (not in the template: the default of its kind)"
        rows.append((f.name, getattr(params, f.name), source, meaning))
    return rows
