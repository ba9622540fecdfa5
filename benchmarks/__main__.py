"""``make bench``: every benchmark in one run, one table of figures and targets, and a JSON file in
benchmarks/results/ that the next run compares itself with.

Order: the counting benchmarks (calls, capacity, instructions) first and side by side, since load does not
change a count; then the timed ones (latency, throughput, memory), each alone on the machine."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.common import Row
from benchmarks.costs import aggregate_costs, state_costs
from benchmarks.latency import batch_latency
from benchmarks.results_page import write_result
from benchmarks.startup import memory, start_cold_start
from benchmarks.throughput import pipeline_throughput

RESULTS = Path(__file__).resolve().parent / "results"
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


def previous_results() -> dict[str, float]:
    files = sorted(RESULTS.glob("*.json"))
    if not files:
        return {}
    return {r["what"]: r["figure"] for r in json.loads(files[-1].read_text())["rows"]}


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
    console.print(f"{sum(r.met is True for r in rows)} targets met, {len(missed)} not met (see README, Performance).")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/<time>.json")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    previous = previous_results()
    started = time.monotonic()
    rows = run()
    seconds = time.monotonic() - started
    show(rows, previous, seconds)
    if not args.no_save:
        payload = {"seconds": round(seconds), "python": sys.version.split()[0], "rows": [r.as_json() for r in rows]}
        path = write_result("bench", payload, RESULTS)
        console.print(f"written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
