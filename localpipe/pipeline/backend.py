"""Where the functions run in a local pipeline, and so what the run can see of their decisions.

``InProcessBackend``: the real handlers in this process, each around a recording of its domain service, so that
every decision is seen record by record. ``LambdaBackend``: the functions in Lambda containers (``sam local
start-lambda``), invoked through the Lambda API; their decisions are known only as committed or given up, and
from the tables. The pipeline and its report ask the backend instead of branching on where (the report's lines on
the decisions are ``report.render``'s: the backend names which)."""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from botocore.config import Config

from localpipe.esm.mapping import MappingStats
from localpipe.faults.rates import FaultRates
from localpipe.pipeline.recording import Recorders, RecordingDecider, metrics_cleared
from localpipe.report.model import DecisionRows, StateDecisions
from localpipe.report.render import CONTAINER_ROWS, IN_PROCESS_ROWS
from localpipe.stack.lambda_context import AGGREGATE_FUNCTION, REDUCE_FUNCTION, STATE_FUNCTION
from localpipe.stack.template import Template

Handler = Callable[[dict, Any], Any]


class FunctionModules:
    """The functions' modules as template.yaml names them: their loggers quiet unless ``verbose``, their handlers
    built around a collaborator, and their EMF metrics dropped unless ``emit_metrics``."""

    def __init__(self, template: Template, *, verbose: bool, emit_metrics: bool) -> None:
        self.template = template
        self.verbose = verbose
        self.emit_metrics = emit_metrics

    def module(self, function: str) -> Any:
        module = importlib.import_module(self.template.functions()[function].module)
        module.logger.setLevel("INFO" if self.verbose else "CRITICAL")
        return module

    def handler(self, function: str, collaborator: Any) -> Handler:
        """The function's real handler around its collaborator (its service, or the producer's publisher)."""
        module = self.module(function)
        handler = module.build_handler(collaborator)
        return handler if self.emit_metrics else metrics_cleared(module, handler)


@dataclass(frozen=True)
class Handlers:
    state: Handler
    aggregate: Handler
    reduce: Handler
    overlap: Handler  # a second consumer of the state mapping's shard (a resharding overlap)


class Backend(Protocol):
    @property
    def rows(self) -> DecisionRows:
        """The report's lines on the functions' decisions."""

    def check(self, rates: FaultRates) -> None: ...

    def handlers(self, functions: FunctionModules, recorders: Recorders) -> Handlers: ...

    def decisions(self, stats: MappingStats, recorder: RecordingDecider, state_changes: int) -> StateDecisions: ...


class InProcessBackend:
    """The real handlers in this process, around the recordings of their services."""

    rows = IN_PROCESS_ROWS

    def check(self, rates: FaultRates) -> None:
        """Every fault of the plan can act in process."""

    def handlers(self, functions: FunctionModules, recorders: Recorders) -> Handlers:
        return Handlers(
            state=functions.handler(STATE_FUNCTION, recorders.state),
            aggregate=functions.handler(AGGREGATE_FUNCTION, recorders.aggregate),
            reduce=functions.handler(REDUCE_FUNCTION, recorders.reduce),
            overlap=functions.handler(STATE_FUNCTION, recorders.state),  # a handler instance of its own
        )

    def decisions(self, stats: MappingStats, recorder: RecordingDecider, state_changes: int) -> StateDecisions:
        """Each record's first decided outcome; given up: the records sent to the destination never decided."""
        outcomes = Counter(o.value for o in recorder.first_outcome.values())
        exhausted = len(stats.records_to_destination - set(recorder.first_outcome))
        return StateDecisions(outcomes, exhausted, outcomes.get("accepted", 0))


class RemoteFunctionError(RuntimeError):
    """The function failed in its container (Lambda's FunctionError): the mapping retries, as Lambda would."""


class LambdaBackend:
    """The functions in Lambda containers behind ``endpoint`` (``sam local start-lambda``)."""

    rows = CONTAINER_ROWS

    def __init__(self, endpoint: str, region: str) -> None:
        config = Config(read_timeout=300, connect_timeout=10, retries={"mode": "standard", "total_max_attempts": 1})
        self._client = boto3.client("lambda", endpoint_url=endpoint, region_name=region, config=config)

    def check(self, rates: FaultRates) -> None:
        if rates.throttles:
            raise ValueError("throttling is injected in this process's SDK: not with functions in containers")

    def handlers(self, functions: FunctionModules, recorders: Recorders) -> Handlers:
        state = self._handler(STATE_FUNCTION)
        return Handlers(state, self._handler(AGGREGATE_FUNCTION), self._handler(REDUCE_FUNCTION), overlap=state)

    def decisions(self, stats: MappingStats, recorder: RecordingDecider, state_changes: int) -> StateDecisions:
        """Known only as committed, or given up; the versions accepted are the StateTable's changes."""
        exhausted = len(stats.records_to_destination)
        return StateDecisions(Counter({"processed": len(stats.committed) - exhausted}), exhausted, state_changes)

    def _handler(self, function: str) -> Handler:
        client = self._client

        def invoke(event: dict, context: Any) -> Any:
            response = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
            payload = json.loads(response["Payload"].read() or b"null")
            if response.get("FunctionError"):
                raise RemoteFunctionError(f"{function}: {str(payload)[:300]}")
            return payload

        return invoke
