"""The deployment the model runs for an offered load: template.yaml with the prod environment's parameters
(``Params.from_template``), and the two parameters an operator sizes for the load, each by a stated rule:

* ``ShardCount``: the load over 1,000 records a second a shard, at ``shard_fill`` of it (at most the account's
  shard quota: then the producer's records are refused when the shards are full);
* each written table's ``WarmThroughput`` (``StateTableWarmWriteUnits``, ...): ``warm_headroom`` times the write
  units the load needs at most (``SIZING_UNITS`` a message), at least a new table's 4,000 and at most the table's
  write quota.

A table has one partition per 1,000 write units of its warm throughput (a partition takes 1,000 a second: fewer
could not serve it; AWS does not publish more), and its stream one shard per partition. The template's MaxValue
of each parameter is checked: a deployment above it is refused, naming the parameter.

The fleet is simulated through a slice of ``slice_shards`` Kinesis shards (``weight`` = fleet / slice); the
StateTable's partitions are rounded up to a multiple of the weight, so that each slice has whole ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from capacity.params import Params, raw_template


class Design(Enum):
    """The aggregate stage's designs the model compares: the two the template deploys (``Combining`` "false" and
    "true"), and two alternatives it does not deploy, kept to show why (labelled so in the report)."""

    # the template, Combining "false": the map's partials straight into the ReduceTable (one partition key: one
    # partition, its stream one shard), read by the one reducer
    MAP_REDUCE = "map_reduce"
    # the template, Combining "true": the map's partials in the PartialTable (keyed by partial, spread over its
    # partitions), the combining lanes on its stream, their combined partials in the ReduceTable, the reducer on its
    MAP_COMBINE_REDUCE = "map_combine_reduce"
    # alternative (the template before): the map's partials in a table keyed by partial (spread), the one reducer on
    # its every stream shard (a poller each, throttled while another shard's batch runs)
    MAP_REDUCE_SPREAD = "map_reduce_spread"
    # alternative (the design before the map and the reduce): markers and aggregates in one transaction
    ONE_TRANSACTION = "one_transaction"

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def combining(self) -> bool:
        return self is Design.MAP_COMBINE_REDUCE

    @property
    def spread(self) -> bool:
        """The reducer reads a table keyed by partial (a stream shard per partition), not the one-partition
        ReduceTable."""
        return self is Design.MAP_REDUCE_SPREAD

    @property
    def partials(self) -> bool:
        return self is not Design.ONE_TRANSACTION

    @property
    def alternative(self) -> bool:
        """Not a deployment of the template: shown beside it, for comparison."""
        return self in (Design.MAP_REDUCE_SPREAD, Design.ONE_TRANSACTION)

    @property
    def partial_table(self) -> bool:
        """The map's partials go to a table keyed by partial (the PartialTable), spread over its partitions."""
        return self.combining or self.spread


LABELS = {
    Design.MAP_REDUCE: "Map/Reduce (Combining off)",
    Design.MAP_COMBINE_REDUCE: "Map/Combine/Reduce (Combining on)",
    Design.MAP_REDUCE_SPREAD: "alternative: Map/Reduce, partials spread (the template before)",
    Design.ONE_TRANSACTION: "alternative: one transaction (markers + aggregates)",
}

# Write units a message each table is sized for (at most: one conditional write a record; one transactional marker
# write a record; a partial's put and delete, both transactional, for each ``PARTIAL_CHANGES`` changes or more).
# The ReduceTable has none: its items share one partition key, so one partition serves it whatever its warm
# throughput (1,000 write units a second, a named limit: ``reduce_table_partition``).
PARTIAL_CHANGES = 80
SIZING_UNITS = {"StateTable": 1.0, "AggregateMarkerTable": 2.0, "PartialTable": 2 * 2 / PARTIAL_CHANGES}
WARM_PARAMETERS = {
    "StateTable": "StateTableWarmWriteUnits",
    "AggregateMarkerTable": "MarkerTableWarmWriteUnits",
    "PartialTable": "PartialTableWarmWriteUnits",
}
# The reducer's input table, in every design the template deploys: all its items under one partition key
# (``riskpipe.partials.REDUCE_PARTITION``), the partial's id as sort key.
REDUCE_TABLE = "ReduceTable"


class DeploymentError(ValueError):
    """A deployment the template refuses (a parameter above its MaxValue)."""


def template_design(combining: bool = True) -> Design:
    """The design template.yaml deploys with ``Combining`` "true" (or "false"), read from it: the table the reducer's
    mapping reads, and whether that table has a sort key. A table with one (the ReduceTable) keeps all its items
    under one partition key (``riskpipe.partials.REDUCE_PARTITION``): one partition, its stream one shard. A reducer
    on a table without one reads a stream shard per partition (``MAP_REDUCE_SPREAD``); with the combining level, that
    is a design the model no longer runs, and it refuses to guess."""
    from capacity.params import deployed_template

    template = deployed_template(combining=combining)
    tables = template.of_type("AWS::DynamoDB::Table")
    reducer = template.event_source("ReduceFunction").source
    sorted_keys = any(k["KeyType"] == "RANGE" for k in tables[reducer]["KeySchema"])
    has_combine = "CombineFunction" in template.functions()
    if has_combine != combining:
        raise DeploymentError(f"Combining {str(combining).lower()} deploys the combining lanes: {has_combine}")
    if sorted_keys:
        return Design.MAP_COMBINE_REDUCE if combining else Design.MAP_REDUCE
    if combining:
        raise DeploymentError(f"the reducer reads {reducer} without a sort key: model its partitions first")
    return Design.MAP_REDUCE_SPREAD


@dataclass(frozen=True)
class Deployment:
    """How the fleet is deployed for an offered load, and the slice of it that is simulated."""

    shards: int  # ShardCount
    weight: int  # fleet / slice
    warm: dict[str, int]  # table -> its WarmThroughput (write units a second)
    state_partitions: int  # the StateTable's partitions, so its stream's shards (fleet; a multiple of weight)

    @property
    def slice_shards(self) -> int:
        return self.shards // self.weight

    @property
    def slice_state_partitions(self) -> int:
        return self.state_partitions // self.weight

    def partitions(self, table: str, params: Params) -> int:
        """A table's partitions (fleet): one per 1,000 write units of its warm throughput."""
        if table == "StateTable":
            return self.state_partitions
        return max(1, math.ceil(self.warm[table] / params.partition_wcu))

    @classmethod
    def for_load(cls, load: float, params: Params, record_bytes: float) -> Deployment:
        per_shard = min(params.shard_records_per_second, params.shard_bytes_per_second / record_bytes)
        needed = min(max(1, math.ceil(load / (per_shard * params.shard_fill))), params.shard_quota)
        weight = math.ceil(needed / params.slice_shards)
        shards = math.ceil(needed / weight) * weight
        if shards > params.shard_quota:  # the quota binds: whole slices within it
            shards = params.shard_quota // weight * weight
        warm = {table: warm_units(load, units, params) for table, units in SIZING_UNITS.items()}
        state = math.ceil(math.ceil(warm["StateTable"] / params.partition_wcu) / weight) * weight
        return cls(shards, weight, warm, state)

    def template_parameters(self) -> dict[str, int]:
        """The template parameters this deployment sets (over the prod environment's)."""
        return {"ShardCount": self.shards, **{WARM_PARAMETERS[t]: units for t, units in self.warm.items()}}

    def check_template(self) -> None:
        """Refuse a deployment the template's MaxValue would refuse."""
        parameters = raw_template().get("Parameters", {})
        for name, value in self.template_parameters().items():
            maximum = parameters.get(name, {}).get("MaxValue")
            if maximum is not None and value > int(maximum):
                raise DeploymentError(f"{name}={value:,} is above the template's MaxValue {int(maximum):,}")

    def lanes(self, params: Params, design: Design) -> dict[str, int]:
        """Each stage's concurrent batches (fleet): its mapping's shards x ParallelizationFactor."""
        lanes = {
            "state": self.shards * params.state_parallelization,
            "map": self.state_partitions * params.aggregate_parallelization,
        }
        if design.combining:
            lanes["combine"] = self.partitions("PartialTable", params) * params.combine_parallelization
        if design.partials:
            lanes["reduce"] = params.reduce_reserved
        return lanes

    def reducer_shards(self, params: Params, design: Design) -> int:
        """Shards of the stream the reducer's mapping reads (a poller each): one (the ReduceTable, all its items under
        one partition key, so in one partition), or a table keyed by partial's (a shard per partition)."""
        return self.partitions("PartialTable", params) if design.spread else 1


def warm_units(load: float, units_a_message: float, params: Params) -> int:
    """A table's warm throughput for the load: ``warm_headroom`` x its need, between a new table's and its quota."""
    wanted = math.ceil(params.warm_headroom * units_a_message * load / 1000) * 1000
    return int(min(max(params.new_table_wcu, wanted), params.table_wcu_quota))
