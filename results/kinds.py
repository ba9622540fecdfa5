"""Each kind of result as a reader reads it: its headline figures, then a table. ``KINDS`` lists them in the
order of docs/results.md; a new kind is one line there (``figure_lines`` renders any figures as a table)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Figures = Mapping[str, Any]
Lines = list[str]


def cell(value: Any) -> str:
    """A table cell: numbers with thousands separators (3 significant digits for fractions), pipes escaped."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Lines:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]


def _flat(figures: Figures, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in figures.items():
        name = f"{prefix}{key}".replace("_", " ")
        if isinstance(value, Mapping):
            yield from _flat(value, f"{prefix}{key} / ")
        elif not isinstance(value, list):
            yield name, value


def figure_lines(figures: Figures) -> Lines:
    """Any figures, one row each (nested ones by their path; lists left out)."""
    return table(("Figure", "Value"), list(_flat(figures)))


# ------------------------------------------------------------------ make demo, make pipeline


def pipeline_lines(figures: Figures) -> Lines:
    """The local pipeline's report (``--json``): the verdict and the decisions, then its options."""
    r = figures["report"]
    outcomes = r.get("outcomes", {})
    exact = r["state_exact"] and r["aggregates_exact"] and r["unaccounted"] == 0
    verdict = "EXACT" if exact else "**NOT EXACT**"
    mode = "naive (read-then-write, ADD per record): " if r.get("naive") else ""
    partials = r.get("partials", {})
    lines = [
        f"{mode}{verdict}: {r['sent']:,} records sent; accepted {r.get('accepted', outcomes.get('accepted', 0)):,}, "
        f"duplicate {outcomes.get('duplicate', 0):,}, stale {outcomes.get('stale', 0):,}, poison "
        f"{outcomes.get('poison', 0):,}; {r['unaccounted']} unaccounted; {r['elapsed_seconds']:,.1f} s.",
        "",
    ]
    rows = [
        ("records sent / delivered to the StateLambda (with retries)", f"{r['sent']:,} / {r['delivered']:,}"),
        ("batches retried", r["retried_batches"]),
        ("exhausted: state / map", f"{r['exhausted']:,} / {r['aggregate_exhausted']:,}"),
        ("message_count (= accepted when exact)", r["message_count"]),
        ("partials written / applied / skipped", "{written:,} / {applied:,} / {skipped:,}".format_map(partials)),
        ("reduce transactions", partials.get("reduce_transactions")),
        ("DynamoDB write calls throttled (bursts)", f"{r['throttled_calls']:,} ({r['throttling_bursts']:,})"),
        ("StateTable: trades not at their newest version", r["stale_items"]),
        ("aggregates that differ from the sum of what was sent", len(r["aggregate_differences"])),
    ]
    given = {name: value for name, value in figures["options"].items() if value is not None}  # None: the template's
    options = ", ".join(f"{name.replace('_', '-')} {cell(value)}" for name, value in given.items())
    return [*lines, *table(("Figure", "Value"), rows), "", f"Options: {options}."]


# ------------------------------------------------------------------ make capacity


def capacity_lines(figures: Figures) -> Lines:
    """The model's own report (capacity/report.py renders it: the deployment, every run, the sensitivity, the write
    units), its last line first; a shape this page does not know is shown figure by figure."""
    if not isinstance(figures.get("report"), str):
        return figure_lines(figures)
    return [f"`{figures['summary']}`", "", *figures["report"].splitlines()]


# ------------------------------------------------------------------ make send


def send_lines(figures: Figures) -> Lines:
    """The drain rate, the end-to-end latency and the CPU per message of a round sent to the stack of make up."""
    burst = "the workshop's lab-2 burst" if figures["workshop"] else f"{figures['put_calls']} PutRecords calls"
    if not figures["exact"]:
        return [f"{burst}: **NOT exact** after {figures['seconds_to_exact']:,.0f} s."]
    latency = figures.get("latency") or {}
    cpu = figures["cpu_ms_per_message"]
    bare = figures["bare_loop"]
    rows = [
        ("messages (trades)", f"{figures['messages']:,} ({figures['trades']:,})"),
        ("sent in", f"{figures['sent_seconds']:.1f} s"),
        (
            "aggregates exact after the first / the last record",
            f"{figures['seconds_to_exact']:.1f} s / {figures['seconds_after_last_put']:.1f} s",
        ),
        ("drain rate, end to end", f"{figures['messages_per_second']:,.0f} msg/s"),
        (
            "latency p50 / p99 / max",
            " / ".join(f"{latency[k]:.1f} s" for k in ("p50_s", "p99_s", "max_s"))
            if latency
            else "n/a (no latency published)",
        ),
        ("CPU per message: MiniStack / state / aggregate", " / ".join(f"{v:.2f} ms" for v in cpu.values())),
        ("CPU over the burst", f"{figures['cpu_seconds']:.1f} s, {figures['cores_busy']:.2f} cores busy"),
        (
            "bare boto3 update_item loop: client / MiniStack CPU a call",
            f"{bare['client_ms']:.2f} / {bare['ministack_ms']:.2f} ms ({bare['calls']} calls)",
        ),
    ]
    return [
        f"{burst}: exact, {figures['messages_per_second']:,.0f} messages a second end to end.",
        "",
        *table(("Figure", "Value"), rows),
    ]


# ------------------------------------------------------------------ make bench, make soak, make workshop-rounds


def bench_lines(figures: Figures) -> Lines:
    rows = figures["rows"]
    met = {True: "yes", False: "**no**", None: ""}
    body = [
        (
            row["group"],
            row["what"],
            "n/a" if row["figure"] is None else f"{cell(row['figure'])} {row.get('unit', '')}".strip(),
            row.get("target", ""),
            met[row.get("met")],
            row.get("note", ""),
        )
        for row in rows
    ]
    missed = sum(row.get("met") is False for row in rows)
    headline = f"{len(rows)} figures in {figures.get('seconds', '?')} s: {sum(r.get('met') is True for r in rows)} "
    return [
        f"{headline}targets met, {missed} not.",
        "",
        *table(("Group", "What", "Figure", "Target", "Met", "How"), body),
    ]


SOAK_FIGURES = (
    ("histories", "histories checked"),
    ("records", "records sent"),
    ("deliveries", "deliveries"),
    ("retried_batches", "batches retried"),
    ("lost_checkpoints", "lost checkpoints"),
    ("overlaps", "overlapping consumers"),
    ("accepted", "accepted"),
    ("duplicate", "duplicate"),
    ("stale", "stale"),
    ("poison", "poison"),
    ("exhausted", "exhausted"),
    ("aggregate_duplicates_skipped", "map redeliveries skipped"),
    ("partials_written", "partials written"),
    ("partials_skipped", "partials delivered again and skipped"),
    ("reduce_transactions", "reduce transactions"),
    ("combining_histories", "histories with the combining level"),
    ("partials_combined", "partials combined"),
    ("combine_skipped", "partials delivered again and skipped by the combining lanes"),
    ("histories_map_gave_up", "histories whose map gave records up"),
    ("map_exhausted", "records the map gave up"),
    ("histories_combine_gave_up", "histories whose combining lanes gave partials up"),
    ("combine_exhausted", "partials the combining lanes gave up"),
    ("histories_reduce_gave_up", "histories whose reduce gave partials up"),
    ("reduce_exhausted", "partials the reduce gave up"),
    ("redriven_map", "map changes brought back by the redrive"),
    ("redriven_combine", "partials combined by the redrive"),
    ("redriven_reduce", "partials reduced by the redrive"),
    ("seconds", "seconds of checking"),
)


def soak_lines(figures: Figures) -> Lines:
    totals = figures["totals"]
    failed = figures.get("failed_runs", 0)
    verdict = "0 violations" if not failed else f"**VIOLATED** in {failed} run(s)"
    rows = [(label, totals[key]) for key, label in SOAK_FIGURES if key in totals]
    asked = figures.get("histories_asked")
    asked = f" (SOAK_HISTORIES={asked}, and the examples every run checks)" if asked else ""
    return [f"{totals.get('histories', 0):,} histories{asked}, {verdict}.", "", *table(("Figure", "Value"), rows)]


def rounds_lines(figures: Figures) -> Lines:
    """Each round of the workshop's own generator: its score and times."""
    rounds = figures["rounds"]
    hundred = sum(r["score"] == 100 for r in rounds)
    rows = [
        (r["round"], r["lab"], r["score"], r["puts_s"], r["exact_after_last_put_s"], r["max_abs_difference"])
        for r in rounds
    ]
    header = ("Round", "Lab", "Score", "Puts (s)", "Exact after the last put (s)", "Largest difference")
    return [f"{hundred} of {len(rounds)} rounds scored 100; SCORE {figures['SCORE']}.", "", *table(header, rows)]


@dataclass(frozen=True)
class Kind:
    name: str
    command: str  # the command that writes it
    lines: Callable[[Figures], Lines]
    needs: str = ""  # what it needs beyond make venv, said when it has not run yet


KINDS = (
    Kind("demo", "make demo", pipeline_lines),
    Kind("pipeline", "make pipeline", pipeline_lines),
    Kind("capacity", "make capacity", capacity_lines),
    Kind("send", "make send", send_lines, needs="the stack of `make up`"),
    Kind("bench", "make bench", bench_lines),
    Kind("soak", "make soak", soak_lines),
    Kind("workshop-rounds", "make workshop-rounds", rounds_lines, needs="`make up WORKSHOP=1` and a workshop checkout"),
)
