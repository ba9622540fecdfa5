"""``python -m labs.check N [--finished]``: run lab N's scenario on the local pipeline with your code from
``labs/workbench/labN.py`` in place (or, with ``--finished``, the project's own) and say whether it holds.

Each check prints what it found and exits 0 when the lab is done, 1 when it is not.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.workbench import lab1, lab2, lab3, lab4, lab5
from localpipe.faults.rates import FaultRates
from localpipe.faults.scenario import scenario_sends
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.report.metrics import emf_totals
from localpipe.report.model import PipelineReport
from localpipe.stack.local import local_stack
from localpipe.stack.readback import queue_bodies
from localpipe.stack.resources import Deployed
from localpipe.stack.shapes import risk_message
from riskpipe.aggregate_service import AggregateService
from riskpipe.aggregation import SubBatch
from riskpipe.config import AggregateSettings, ReduceSettings, StateSettings
from riskpipe.models import RiskMessage, StoredVersion, WriteOutcome
from riskpipe.partials import ReduceTransaction
from riskpipe.poison import PoisonQueue
from riskpipe.reduce_service import ReduceService
from riskpipe.state_service import BatchDecider, Decision, StateService, StreamRecord
from riskpipe.state_store import VersionedStateStore

LABS = {
    0: "set-up",
    1: "connect the pipeline",
    2: "duplicates and out-of-order versions",
    3: "exactly-once aggregation",
    4: "a poison record and partial batch failures",
    5: "read the metrics",
}


@dataclass
class CheckResult:
    lab: int
    finished: bool
    findings: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.findings) and all(ok for ok, _ in self.findings)

    def expect(self, ok: bool, text: str) -> None:
        self.findings.append((ok, text))

    def render(self) -> str:
        code = "the project's finished code" if self.finished else f"labs/workbench/lab{self.lab}.py"
        code = "this machine" if self.lab == 0 else code
        lines = [f"Lab {self.lab} ({LABS[self.lab]}), with {code}:"]
        lines += [f"  [{'ok' if ok else 'NOT YET'}] {text}" for ok, text in self.findings]
        verdict = "PASSED: the lab is done." if self.passed else "NOT PASSED: see what is NOT YET above."
        return "\n".join([*lines, verdict])


# ---------------------------------------------------------------- the participants' code, plugged in


@dataclass
class _FunctionStore:
    """A StateStore whose write is a lab's function."""

    write: Callable[[Any, str, RiskMessage], StoredVersion]
    client: Any
    table: str

    def put_if_newer(self, message: RiskMessage) -> StoredVersion:
        return self.write(self.client, self.table, message)


@dataclass
class _LabWriter[Work]:
    """The map's or the reduce's writer whose transaction is lab 3's function: ``map_transaction`` (with the
    ReduceTable and the marker table) or ``reduce_transaction`` (with the AggregateTable and the ReduceTable)."""

    transaction: Callable[[Any, str, str, Work], None]
    client: Any
    tables: tuple[str, str]

    def apply(self, work: Work) -> None:
        self.transaction(self.client, *self.tables, work)


class _Lab4StateService(StateService):
    def admit(self, record: StreamRecord) -> RiskMessage | Decision:
        return lab4.admit(record, self.quarantine)


def _state_with(write: Callable[[Any, str, RiskMessage], StoredVersion]) -> Callable[[StateSettings, Any], Any]:
    def build(settings: StateSettings, session: Any) -> BatchDecider:
        store = _FunctionStore(write, session.client("dynamodb"), settings.state_table_name)
        poison = PoisonQueue(settings.poison_queue_url, session.client("sqs"))
        return StateService(store, poison, write_concurrency=settings.write_concurrency)

    return build


def _lab3_map(settings: AggregateSettings, session: Any) -> AggregateService:
    tables = (settings.partial_table_name, settings.marker_table_name)
    writer = _LabWriter[SubBatch](lab3.map_transaction, session.client("dynamodb"), tables)
    return AggregateService(writer, settings.aggregation_order)


def _lab3_reduce(settings: ReduceSettings, session: Any) -> ReduceService:
    tables = (settings.aggregate_table_name, settings.reduce_table_name)
    writer = _LabWriter[ReduceTransaction](lab3.reduce_transaction, session.client("dynamodb"), tables)
    return ReduceService(writer)


def _lab4_state(settings: StateSettings, session: Any) -> BatchDecider:
    store = VersionedStateStore(settings.state_table_name, session.client("dynamodb"))
    poison = PoisonQueue(settings.poison_queue_url, session.client("sqs"))
    return _Lab4StateService(store, poison, write_concurrency=settings.write_concurrency)


def _finished_write(client: Any, table: str, message: RiskMessage) -> StoredVersion:
    return VersionedStateStore(table, client).put_if_newer(message)


# ---------------------------------------------------------------- running a scenario


def _run(
    endpoint: str | None,
    rates: FaultRates,
    *,
    messages: int = 240,
    trades: int = 30,
    poison: int = 0,
    then: Callable[[Deployed], None] | None = None,
    **wiring: Any,
) -> tuple[PipelineReport, list[str]]:
    """Run the scenario; ``then`` looks at the stack before it goes. Returns the report and what the functions
    printed (and the poison queue's reasons, as ``poison: <reason>`` lines)."""
    sends = scenario_sends(messages=messages, trades=trades, seed=17, rates=rates, poison=poison)
    captured = io.StringIO()
    with local_stack(endpoint) as deployed:
        pipeline = LocalPipeline(deployed, rates=rates, seed=17, **wiring)
        with contextlib.redirect_stdout(captured):
            report = pipeline.run(sends, burst=60)
        poison_reasons = [b["reason"] for b in queue_bodies(deployed.client("sqs"), pipeline.poison_queue_url)]
        if then is not None:
            then(deployed)
    return report, [*captured.getvalue().splitlines(), *(f"poison: {r}" for r in poison_reasons)]


def _pipeline_findings(result: CheckResult, report: PipelineReport) -> None:
    result.expect(
        not report.stale_items,
        f"the StateTable holds the newest version of all {report.trades} trades"
        if not report.stale_items
        else f"{len(report.stale_items)} of {report.trades} trades do not hold their newest version, e.g. "
        + ", ".join(
            f"{t}: newest sent v{sent}, stored v{stored}" for t, (sent, stored) in list(report.stale_items.items())[:3]
        ),
    )
    result.expect(
        report.aggregates_exact,
        "every aggregate equals the sum of the latest values, and message_count the versions accepted"
        if report.aggregates_exact
        else f"{len(report.aggregate_differences)} aggregates differ from the sum of the latest values; "
        f"message_count {report.message_count} for {report.outcomes.get('accepted', 0)} versions accepted",
    )


# ---------------------------------------------------------------- the labs


def check_lab0(endpoint: str | None, finished: bool) -> CheckResult:
    result = CheckResult(0, finished)
    result.expect(sys.version_info >= (3, 12), f"Python {sys.version.split()[0]} (3.13 is Lambda's runtime)")
    sam = shutil.which("sam") or shutil.which("sam", path=str(Path(sys.executable).parent))
    result.expect(sam is not None, f"the SAM CLI is installed ({sam or 'not found: make venv'})")
    try:
        with local_stack(endpoint) as deployed:
            made = len(deployed.names)
        result.expect(made >= 7, f"a moto server started on 127.0.0.1 and took the template's {made} resources")
    except Exception as exc:  # noqa: BLE001 - reported as a finding
        result.expect(False, f"the local stack could not be made: {exc}")
    return result


def check_lab1(endpoint: str | None, finished: bool) -> CheckResult:
    result = CheckResult(1, finished)
    write = _finished_write if finished else lab1.write_trade
    report, _ = _run(endpoint, FaultRates(), state_service=_state_with(write))
    result.expect(report.exhausted == 0, f"{report.exhausted} records gave up after all their retries")
    _pipeline_findings(result, report)
    return result


def check_lab2(endpoint: str | None, finished: bool) -> CheckResult:
    result = CheckResult(2, finished)
    write = _finished_write if finished else lab2.put_if_newer
    reads: list[str] = []

    def count_reads(session: Any) -> None:
        for operation in ("GetItem", "BatchGetItem", "Query", "Scan"):
            session.events.register(f"before-call.dynamodb.{operation}", lambda op=operation, **_: reads.append(op))

    def direct_checks(deployed: Deployed) -> None:
        _outcomes(result, write, deployed.session)

    rates = FaultRates(duplicates=0.15, out_of_order=0.25)
    report, _ = _run(endpoint, rates, state_service=_state_with(write), on_session=count_reads, then=direct_checks)
    _pipeline_findings(result, report)
    # A read before the write races with every other writer of the trade (another consumer of the shard, a
    # retried batch): only the conditional write itself decides. moto's local writes are not atomic under
    # concurrency as DynamoDB's are, so this is checked by counting the reads instead of racing writers.
    result.expect(not reads, f"the StateLambda read the table {len(reads)} times (never read-then-write)")
    return result


def _scratch_table(session: Any) -> str:
    """A table like the StateTable, without a stream (moto's stream is not safe for concurrent writers)."""
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    session.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _outcomes(result: CheckResult, write: Any, session: Any) -> None:
    client, table = session.client("dynamodb"), _scratch_table(session)
    seen = [write(client, table, risk_message("T", v, v)) for v in (2, 2, 1)]
    wanted = [WriteOutcome.ACCEPTED, WriteOutcome.DUPLICATE, WriteOutcome.STALE]
    result.expect(
        [s.outcome for s in seen] == wanted and all(s.stored_version == 2 for s in seen),
        "v2, v2 again, then v1: "
        + ", ".join(f"{s.outcome.value} (table holds v{s.stored_version})" for s in seen)
        + ("" if [s.outcome for s in seen] == wanted else "; expected accepted, duplicate, stale (holding v2)"),
    )


def check_lab3(endpoint: str | None, finished: bool) -> CheckResult:
    result = CheckResult(3, finished)
    rates = FaultRates(duplicates=0.1, lost_checkpoint=0.15, crash_after_write=0.2, function_errors=0.05)
    wiring: dict[str, Any] = {} if finished else {"aggregate_service": _lab3_map, "reduce_service": _lab3_reduce}
    # Small batches in both stages: many invocations, so the platform's bad days reach the map and the reduce too.
    overrides = {"AggregateFunction": {"BatchSize": 10}, "ReduceFunction": {"BatchSize": 3}}
    report, _ = _run(endpoint, rates, mapping_overrides=overrides, **wiring)
    _pipeline_findings(result, report)
    result.expect(
        report.message_count == report.outcomes.get("accepted", 0),
        f"message_count {report.message_count}, versions accepted {report.outcomes.get('accepted', 0)} "
        f"({report.aggregate_duplicates_skipped} map redeliveries recognised by the markers and skipped)",
    )
    result.expect(
        report.partials_left == 0 and report.partials_applied == report.partials_written,
        f"{report.partials_written} partials written by the map, {report.partials_applied} applied once by the "
        f"reduce, {report.partials_skipped} delivered again and skipped, {report.partials_left} left in the table",
    )
    return result


def check_lab4(endpoint: str | None, finished: bool) -> CheckResult:
    result = CheckResult(4, finished)
    wiring: dict[str, Any] = {} if finished else {"state_service": _lab4_state}
    report, lines = _run(endpoint, FaultRates(throttling=0.05), poison=4, **wiring)
    reasons = [line.removeprefix("poison: ") for line in lines if line.startswith("poison: ")]
    result.expect(
        report.poison_in_queue >= report.poison_sent and all(reasons),
        f"{report.poison_sent} poison records sent, {len(set(reasons))} kinds of reason in the poison queue"
        + (f", e.g. {reasons[0]!r}" if reasons else ""),
    )
    result.expect(
        report.exhausted == 0,
        f"{report.exhausted} records given up after their retries ({report.retried_batches} batches retried)",
    )
    _pipeline_findings(result, report)
    return result


def check_lab5(endpoint: str | None, finished: bool) -> CheckResult:
    result = CheckResult(5, finished)
    rates = FaultRates(duplicates=0.1, out_of_order=0.1, crash_after_write=0.1, lost_checkpoint=0.05)
    report, lines = _run(endpoint, rates, poison=2, emit_metrics=True)
    totals = (emf_totals if finished else lab5.totals)(lines)
    accepted = totals.get("state:records_accepted", 0)
    applied = totals.get("aggregate:records_applied", 0)
    result.expect(
        accepted == report.message_count,
        f"state:records_accepted adds up to {accepted:g}; the StateTable accepted {report.message_count} versions",
    )
    result.expect(
        applied == report.message_count,
        f"aggregate:records_applied adds up to {applied:g}: every accepted version applied once, "
        f"redeliveries skipped ({totals.get('aggregate:duplicates_skipped', 0):g} of them)",
    )
    reduced = totals.get("reduce:messages_applied", 0)
    result.expect(
        reduced == report.message_count,
        f"reduce:messages_applied adds up to {reduced:g}: every partial applied once, "
        f"partials delivered again skipped ({totals.get('reduce:partials_skipped', 0):g} of them)",
    )
    result.expect(
        totals.get("state:records_poison", 0) >= report.poison_sent > 0,
        f"state:records_poison adds up to {totals.get('state:records_poison', 0):g} for {report.poison_sent} sent",
    )
    return result


CHECKS: dict[int, Callable[[str | None, bool], CheckResult]] = {
    0: check_lab0,
    1: check_lab1,
    2: check_lab2,
    3: check_lab3,
    4: check_lab4,
    5: check_lab5,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.check", description=__doc__)
    parser.add_argument("lab", type=int, choices=sorted(CHECKS))
    parser.add_argument("--finished", action="store_true", help="check the project's own code instead of yours")
    args = parser.parse_args(argv)
    result = CHECKS[args.lab](None, args.finished)
    print(result.render())  # noqa: T201
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
