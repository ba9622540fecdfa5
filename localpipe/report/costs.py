"""Where the CPU of the stack of ``make up`` goes: each component's CPU seconds (MiniStack's server and poller,
each function's worker processes) read from ``/proc`` for every process of the session ``make up`` started,
and a bare boto3 ``update_item`` loop (the StateTable's own conditional write, on a scratch table) measured in
the same run, for ``make send``.

A process's CPU is ``utime + stime`` of ``/proc/<pid>/stat``; a worker is told by its command line, which names
its function (``ministack-lambda-<function>-...``). A worker that exits between two readings takes its CPU with
it: MiniStack keeps warm workers for minutes, so a burst without failures loses none; but it kills the worker
of every failed invocation (the workshop's lab-2 failures), and that worker's CPU is then not counted.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskpipe.state_store import CONDITION_EXPRESSION, EXPRESSION_NAMES, UPDATE_EXPRESSION

PROC = Path("/proc")
MINISTACK = "MiniStack"
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid_dir: Path) -> tuple[int, float] | None:
    """(session id, CPU seconds) of one process; None when it is gone or unreadable."""
    try:
        text = (pid_dir / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, pgrp, session, ...
    return int(fields[3]), (int(fields[11]) + int(fields[12])) / TICKS


def _component(pid_dir: Path, functions: Mapping[str, str]) -> str:
    try:
        command = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return MINISTACK
    for label, name in functions.items():
        if f"ministack-lambda-{name}-" in command:
            return label
    return MINISTACK


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds of each process of the session, by pid, with its component."""

    processes: Mapping[int, tuple[str, float]]

    def by_component(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for component, seconds in self.processes.values():
            totals[component] = totals.get(component, 0.0) + seconds
        return totals

    def since(self, earlier: CpuReading) -> dict[str, float]:
        """CPU seconds each component used between ``earlier`` and this reading (a process born meanwhile
        counts from zero)."""
        used: dict[str, float] = {}
        for pid, (component, seconds) in self.processes.items():
            before = earlier.processes.get(pid, (component, 0.0))[1]
            used[component] = used.get(component, 0.0) + max(0.0, seconds - before)
        return used


def read_cpu(session_id: int, functions: Mapping[str, str]) -> CpuReading:
    """The CPU so far of every process in the session ``session_id``, by component: ``functions`` maps a label
    (``state``) to a function's deployed name; every other process of the session is MiniStack."""
    processes: dict[int, tuple[str, float]] = {}
    for pid_dir in PROC.iterdir():
        if not pid_dir.name.isdigit():
            continue
        stat = _stat(pid_dir)
        if stat is None or stat[0] != session_id:
            continue
        processes[int(pid_dir.name)] = (_component(pid_dir, functions), stat[1])
    return CpuReading(processes)


@dataclass(frozen=True)
class BareLoop:
    calls: int
    seconds: float
    client_cpu: float  # this process's CPU seconds over the loop
    server_cpu: float  # MiniStack's CPU seconds over the loop

    def per_call_ms(self) -> tuple[float, float]:
        return 1000 * self.client_cpu / self.calls, 1000 * self.server_cpu / self.calls


def bare_update_item_loop(dynamodb: Any, session_id: int, calls: int) -> BareLoop:
    """``calls`` of the StateTable's conditional versioned ``update_item`` from one plain boto3 client (no
    Powertools, no tracing, default configuration) on a scratch table made for it and deleted after."""
    table = f"risk-pipeline-bare-loop-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        dynamodb.get_waiter("table_exists").wait(TableName=table)
        before, started, client_before = read_cpu(session_id, {}), time.monotonic(), time.process_time()
        for call in range(calls):
            dynamodb.update_item(
                TableName=table,
                Key={"pk": {"S": f"trade-{call}"}},
                UpdateExpression=UPDATE_EXPRESSION,
                ConditionExpression=CONDITION_EXPRESSION,
                ExpressionAttributeNames=EXPRESSION_NAMES,
                ExpressionAttributeValues={
                    ":value": {"N": "12345.67"},
                    ":new_version": {"N": "0"},
                    ":hierarchy": {"S": '{"RiskType": "PV", "Region": "EMEA", "TradeDesk": "FXSpot"}'},
                    ":timestamp": {"N": str(time.time())},
                    ":one": {"N": "1"},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        client_cpu, seconds = time.process_time() - client_before, time.monotonic() - started
        server_cpu = read_cpu(session_id, {}).since(before).get(MINISTACK, 0.0)
    finally:
        dynamodb.delete_table(TableName=table)
    return BareLoop(calls=calls, seconds=seconds, client_cpu=client_cpu, server_cpu=server_cpu)
