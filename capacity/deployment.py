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
    """The aggregate stage's designs the model compares."""

    ONE_TRANSACTION = "one_transaction"  # today's previous design: markers and aggregates in one transaction
    MAP_REDUCE = "map_reduce"  # the map's partials applied by the one reducer
    MAP_COMBINE_REDUCE = "map_combine_reduce"  # combining lanes between them, on the PartialTable's stream
    # the combined partials in a table of their own, under one partition key: the reducer's stream has one shard
    MAP_COMBINE_OWN_TABLE = "map_combine_reduce_own_table"

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def combining(self) -> bool:
        return self in (Design.MAP_COMBINE_REDUCE, Design.MAP_COMBINE_OWN_TABLE)

    @property
    def own_table(self) -> bool:
        """The combined partials go to a table of their own (the reducer reads its stream, not the PartialTable's)."""
        return self is Design.MAP_COMBINE_OWN_TABLE

    @property
    def partials(self) -> bool:
        return self is not Design.ONE_TRANSACTION


LABELS = {
    Design.ONE_TRANSACTION: "one transaction (markers + aggregates)",
    Design.MAP_REDUCE: "Map/Reduce",
    Design.MAP_COMBINE_REDUCE: "Map/Combine/Reduce",
    Design.MAP_COMBINE_OWN_TABLE: "Map/Combine/Reduce, combined partials in a table of their own",
}

# Write units a message each table is sized for (at most: one conditional write a record; one transactional marker
# write a record; a partial's put and delete, both transactional, for each ``PARTIAL_CHANGES`` changes or more).
PARTIAL_CHANGES = 80
SIZING_UNITS = {"StateTable": 1.0, "AggregateMarkerTable": 2.0, "PartialTable": 2 * 2 / PARTIAL_CHANGES}
WARM_PARAMETERS = {
    "StateTable": "StateTableWarmWriteUnits",
    "AggregateMarkerTable": "MarkerTableWarmWriteUnits",
    "PartialTable": "PartialTableWarmWriteUnits",
}


class DeploymentError(ValueError):
    """A deployment the template refuses (a parameter above its MaxValue)."""


def template_design() -> Design:
    """The Map/Combine/Reduce design template.yaml deploys with ``Combining`` "true": the reducer's mapping on the
    PartialTable's stream (the combined partials among the map's), or on a table of the combined partials' own. The
    model takes such a table to hold them under one partition key (so in one partition, its stream's one shard): it
    wants a sort key there, and refuses to guess a table without one (its items spread over its partitions)."""
    resources = raw_template()["Resources"]
    events = resources["ReduceFunction"]["Properties"]["Events"]
    streams = [event["Properties"]["Stream"] for event in events.values()]
    tables = {name for stream in streams for name in _tables_named(stream)} - {"PartialTable"}
    if not tables:
        return Design.MAP_COMBINE_REDUCE
    keys = [k["KeyType"] for t in tables for k in resources[t]["Properties"]["KeySchema"]]
    if "RANGE" not in keys:
        raise DeploymentError(f"the reducer reads {sorted(tables)} without a sort key: model its partitions first")
    return Design.MAP_COMBINE_OWN_TABLE


def _tables_named(node: object) -> set[str]:
    """The resources a ``Fn::GetAtt`` anywhere in ``node`` names."""
    if isinstance(node, dict):
        if "Fn::GetAtt" in node:
            return {node["Fn::GetAtt"][0]}
        return {name for value in node.values() for name in _tables_named(value)}
    if isinstance(node, list):
        return {name for value in node for name in _tables_named(value)}
    return set()


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
        """Shards of the stream the reducer's mapping reads (a poller each): the PartialTable's, or one (the combined
        partials' own table, all of them under one partition key, so in one partition)."""
        return 1 if design.own_table else self.partitions("PartialTable", params)


def warm_units(load: float, units_a_message: float, params: Params) -> int:
    """A table's warm throughput for the load: ``warm_headroom`` x its need, between a new table's and its quota."""
    wanted = math.ceil(params.warm_headroom * units_a_message * load / 1000) * 1000
    return int(min(max(params.new_table_wcu, wanted), params.table_wcu_quota))
