"""The stack a redrive works on: its stream, its tables and its five queues, from a deployed stack's Outputs (AWS, or
the local AWS of ``make up``) or from a local stack on moto (the local pipeline)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from localpipe.stack.readback import StackTables
from riskpipe.config import AggregateSettings

if TYPE_CHECKING:
    from localpipe.stack.resources import Deployed

# The stages whose queues a redrive reads, with each queue's logical id in template.yaml (its Output is "<id>Url").
QUEUES = {
    "state": "StateFailureQueue",
    "map": "AggregateFailureQueue",
    "reduce": "ReduceFailureQueue",
    "poison": "PoisonQueue",
    "set aside": "AggregatePoisonQueue",
}
STAGES = tuple(QUEUES)
_TABLES = {
    "state_table": "StateTable",
    "aggregate_table": "AggregateTable",
    "marker_table": "AggregateMarkerTable",
    "partial_table": "PartialTable",
}


@dataclass(frozen=True)
class RedriveStack:
    name: str
    stream_name: str
    tables: StackTables
    queues: Mapping[str, str]  # stage -> queue URL

    @classmethod
    def from_outputs(cls, name: str, outputs: Mapping[str, str], parameters: Mapping[str, str]) -> RedriveStack:
        """A deployed stack as CloudFormation describes it (``deployed_stack.describe_stack``)."""
        order = parameters.get("AggregationOrder") or ",".join(
            AggregateSettings.model_fields["aggregation_order"].default
        )
        tables = StackTables(
            **{field: outputs[f"{logical}Name"] for field, logical in _TABLES.items()},
            order=tuple(level.strip() for level in order.split(",")),
        )
        queues = {stage: outputs[f"{logical}Url"] for stage, logical in QUEUES.items()}
        return cls(name, outputs["StreamName"], tables, queues)

    @classmethod
    def from_deployed(cls, deployed: Deployed, tables: StackTables) -> RedriveStack:
        """A local stack on moto (``localpipe.stack.resources.Deployed``), its tables as a reconcile reads them."""
        names = deployed.names
        return cls("local", names["RiskStream"], tables, {stage: names[queue] for stage, queue in QUEUES.items()})
