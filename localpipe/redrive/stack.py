"""The stack a redrive works on: its stream, its tables and its queues (five, six with the combining level), from a
deployed stack's Outputs (AWS, or the local AWS of ``make up``) or from a local stack on moto (the local pipeline)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from localpipe.stack.readback import StackTables

if TYPE_CHECKING:
    from localpipe.stack.resources import Deployed

# The stages whose queues a redrive reads, with each queue's logical id in template.yaml (its Output is "<id>Url");
# the combining lanes' only with Combining "true".
QUEUES = {
    "state": "StateFailureQueue",
    "map": "AggregateFailureQueue",
    "combine": "CombineFailureQueue",
    "reduce": "ReduceFailureQueue",
    "poison": "PoisonQueue",
    "set aside": "AggregatePoisonQueue",
}
STAGES = tuple(QUEUES)


@dataclass(frozen=True)
class RedriveStack:
    name: str
    stream_name: str
    tables: StackTables
    queues: Mapping[str, str]  # stage -> queue URL (the stages the stack has)

    @classmethod
    def from_outputs(cls, name: str, outputs: Mapping[str, str], parameters: Mapping[str, str]) -> RedriveStack:
        """A deployed stack as CloudFormation describes it (``deployed_stack.describe_stack``)."""
        tables = StackTables.from_outputs(outputs, parameters)
        queues = {stage: outputs[f"{logical}Url"] for stage, logical in QUEUES.items() if f"{logical}Url" in outputs}
        return cls(name, outputs["StreamName"], tables, queues)

    @classmethod
    def from_deployed(cls, deployed: Deployed, tables: StackTables) -> RedriveStack:
        """A local stack on moto (``localpipe.stack.resources.Deployed``), its tables as a reconcile reads them."""
        names = deployed.names
        queues = {stage: names[queue] for stage, queue in QUEUES.items() if queue in names}
        return cls("local", names["RiskStream"], tables, queues)
