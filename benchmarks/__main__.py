"""``make bench``: every benchmark in one run, one table of figures and targets, compared with the latest published
run and published in its place (docs/results/bench.json, for ``make results``).

Order: the counting benchmarks (calls, capacity, instructions) first and side by side, since load does not
change a count; then the timed ones (latency, throughput, memory), each alone on the machine."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from rich.console import Console
from rich.table import Table

from benchmarks.common import Row
from benchmarks.costs import aggregate_costs, state_costs
from benchmarks.latency import batch_latency
from benchmarks.startup import memory, start_cold_start
from benchmarks.throughput import pipeline_throughput
from results.record import ResultStore

console = Console(width=None if sys.stdout.isatty() else 220)


def run() -> list[Row]:
    rows: list[Row] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        cold_start = start_cold_start(pool)  # valgrind runs in other processes meanwhile
        rows += state_costs()
        rows += aggregate_costs()
        rows += cold_start()
    rows += batch_latency()
    rows += pipeline_throughput()
    rows += memory()
    return rows


def previous_results(store: ResultStore) -> dict[str, float]:
    """The figures of the latest published run, by what they measure."""
    latest = store.latest("bench")
    return {r["what"]: r["figure"] for r in latest["figures"]["rows"]} if latest else {}


def show(rows: list[Row], previous: dict[str, float], seconds: float) -> None:
    table = Table(title=f"make bench: {len(rows)} figures in {seconds:.0f} s", title_justify="left")
    for column in ("group", "what", "figure", "target", "met", "vs last run", "how"):
        table.add_column(column, overflow="fold")
    for row in rows:
        before = previous.get(row.what)
        change = "" if before in (None, 0) or math.isnan(row.figure) else f"{(row.figure - before) / before:+.0%}"
        met = {True: "[green]yes[/green]", False: "[red]NO[/red]", None: ""}[row.met]
        figure = "n/a" if math.isnan(row.figure) else f"{row.figure:,.3g} {row.unit}".strip()
        table.add_row(row.group, row.what, figure, row.target, met, change, row.note)
    console.print(table)
    missed = [r for r in rows if r.met is False]
    console.print(f"{sum(r.met is True for r in rows)} targets met, {len(missed)} not met (see docs/performance.md).")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--no-save", action="store_true", help="do not publish the result (docs/results/bench.json)")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    store = ResultStore()
    previous = previous_results(store)
    started = time.monotonic()
    rows = run()
    seconds = time.monotonic() - started
    show(rows, previous, seconds)
    if not args.no_save:
        path = store.publish("bench", {"seconds": round(seconds), "rows": [r.as_json() for r in rows]})
        console.print(f"published as {path} (make results renders it in docs/results.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
