"""What each sample event in ``events/`` must do to a fresh stack (``events/expected.json``), and the check
that compares it with what a function returned and what the stack holds afterwards.

The same check runs in process (``make invoke``, tests/integration/test_sample_events.py) and against
functions running in Lambda containers (``make sam-local-check``), so both prove the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from localpipe.stack.lambda_context import COMBINE_FUNCTION
from localpipe.stack.readback import queue_bodies, read_aggregates, read_partials, read_state, stream_records
from localpipe.stack.resources import Deployed
from localpipe.stack.template import ROOT

EVENTS = ROOT / "events"
EXPECTATIONS = EVENTS / "expected.json"


@dataclass(frozen=True)
class Expectation:
    event: str  # path under events/
    function: str  # logical id in template.yaml
    response: dict[str, Any]
    state_versions: dict[str, int] | None = None
    state_values: dict[str, str] | None = None
    poison_reasons: list[str] | None = None
    aggregates: dict[str, str] | None = None
    stream_records: int | None = None
    # items (DynamoDB JSON) put before the event into the table the function reads (the combine's PartialTable, the
    # reduce's ReduceTable)
    given_partials: list[dict[str, Any]] | None = None
    partials: dict[str, int] | None = None  # the partials waiting after: partial id -> its message count

    @property
    def path(self) -> Path:
        return EVENTS / self.event

    def load_event(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())


def load_expectations(path: Path = EXPECTATIONS) -> dict[str, Expectation]:
    raw = json.loads(path.read_text())
    return {event: Expectation(event=event, **spec) for event, spec in raw.items() if not event.startswith("_")}


def sample_events() -> list[str]:
    """Every event file under events/, as a path relative to it."""
    return sorted(str(p.relative_to(EVENTS)) for p in EVENTS.glob("*/*.json"))


def stack_parameters(function: str) -> dict[str, str]:
    """The template parameters a stack needs for ``function`` to be in it: the combine function only with the
    combining level on."""
    return {"Combining": "true"} if function == COMBINE_FUNCTION else {}


def seed(deployed: Deployed, expectation: Expectation | None) -> None:
    """Put what the expectation gives before its event (the partials a reduce or a combine event stands for), into
    the table the function reads."""
    if expectation is None:
        return
    table = deployed.names["PartialTable" if expectation.function == COMBINE_FUNCTION else "ReduceTable"]
    for item in expectation.given_partials or []:
        deployed.client("dynamodb").put_item(TableName=table, Item=item)


@dataclass
class Observed:
    response: Any
    state: dict[str, Any] = field(default_factory=dict)
    aggregates: dict[str, Decimal] = field(default_factory=dict)
    poison_reasons: list[str] = field(default_factory=list)
    stream_records: int = 0
    partials: dict[str, int] = field(default_factory=dict)


def observe(deployed: Deployed, response: Any) -> Observed:
    """What the stack holds now, read through the stack's own session."""
    dynamodb, sqs = deployed.client("dynamodb"), deployed.client("sqs")
    return Observed(
        response=response,
        state=read_state(dynamodb, deployed.names["StateTable"]),
        aggregates=read_aggregates(dynamodb, deployed.names["AggregateTable"]),
        poison_reasons=[body["reason"] for body in queue_bodies(sqs, deployed.names["PoisonQueue"])],
        stream_records=len(stream_records(deployed.client("kinesis"), deployed.names["RiskStream"])),
        partials={
            p.partial_id: p.message_count
            for table in ("ReduceTable", "PartialTable")
            if table in deployed.names
            for p in read_partials(dynamodb, deployed.names[table])
        },
    )


def mismatches(expected: Expectation, observed: Observed) -> list[str]:
    """Every way the observation differs from the expectation; empty when it holds."""
    return [problem for check in _CHECKS for problem in check(expected, observed)]


def _response(expected: Expectation, observed: Observed) -> list[str]:
    if observed.response == expected.response:
        return []
    return [f"response {observed.response!r}, expected {expected.response!r}"]


def _state_versions(expected: Expectation, observed: Observed) -> list[str]:
    if expected.state_versions is None:
        return []
    versions = {trade: message.Version for trade, message in observed.state.items()}
    if versions == expected.state_versions:
        return []
    return [f"StateTable versions {versions}, expected {expected.state_versions}"]


def _state_values(expected: Expectation, observed: Observed) -> list[str]:
    problems = []
    for trade, value in (expected.state_values or {}).items():
        found = observed.state.get(trade)
        if found is None or found.Value != Decimal(value):
            problems.append(f"StateTable {trade} value {found.Value if found else None}, expected {value}")
    return problems


def _poison_reasons(expected: Expectation, observed: Observed) -> list[str]:
    """Each expected reason is a part of the reason found at its place, both sorted."""
    if expected.poison_reasons is None:
        return []
    reasons = sorted(observed.poison_reasons)
    wanted = sorted(expected.poison_reasons)
    if len(reasons) == len(wanted) and all(w in r for w, r in zip(wanted, reasons, strict=True)):
        return []
    return [f"poison reasons {reasons}, expected ones containing {wanted}"]


def _aggregates(expected: Expectation, observed: Observed) -> list[str]:
    """The aggregates expected, and no other that is not zero."""
    if expected.aggregates is None:
        return []
    wanted = {k: Decimal(v) for k, v in expected.aggregates.items()}
    found = {k: v for k, v in observed.aggregates.items() if v != 0 or k in wanted}
    if found == wanted:
        return []
    return [f"aggregates {found}, expected {wanted}"]


def _stream_records(expected: Expectation, observed: Observed) -> list[str]:
    if expected.stream_records is None or observed.stream_records == expected.stream_records:
        return []
    return [f"{observed.stream_records} records on the stream, expected {expected.stream_records}"]


def _partials(expected: Expectation, observed: Observed) -> list[str]:
    if expected.partials is None or observed.partials == expected.partials:
        return []
    return [f"partials {observed.partials}, expected {expected.partials}"]


_CHECKS = (_response, _state_versions, _state_values, _poison_reasons, _aggregates, _partials, _stream_records)
