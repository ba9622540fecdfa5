"""The report of ``make capacity``, rendered from its JSON (capacity/results/capacity.json): the markdown that
``make capacity`` prints and writes, the block of docs/performance.md between its markers (no figure of a run is
typed by hand there: ``tests/unit/test_capacity_report.py`` renders the block again from the JSON and compares),
and the last line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from capacity.deployment import LABELS, Design

PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
BEGIN = "<!-- capacity results: written by `make capacity` from capacity/results/capacity.json; do not edit -->"
END = "<!-- end of capacity results -->"
TARGET = 1_000_000
DEFAULT_TARGET = 50_000


def n(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.0f}"


def p99(run: dict[str, Any]) -> str:
    return f"{'>' if run['p99_censored'] else ''}{run['p99']:.1f}"


def label(design: str) -> str:
    return LABELS[Design(design)]


def binding(run: dict[str, Any]) -> str:
    """The limit that binds a run: of those it ran into, the one with the lowest hand bound; else its stage."""
    if run["binds"] == "nothing":
        return "nothing"
    by_bound = {b["name"]: b["messages_per_second"] for b in run["bounds"]}
    hit = [name for name in run["limits"] if name in by_bound]
    return min(hit, key=by_bound.__getitem__) if hit else run["binds"]


def find(runs: list[dict[str, Any]], design: Design, offered: float) -> dict[str, Any]:
    return next(r for r in runs if r["design"] == design.value and r["offered"] == offered)


def deployed(payload: dict[str, Any]) -> Design:
    """The design the template deploys with ``Combining`` "true", the target's (``deployment.template_design``)."""
    return Design(payload["meta"]["template_design"])


def deployed_off(payload: dict[str, Any]) -> Design:
    """The design the template deploys with ``Combining`` "false", its default."""
    return Design(payload["meta"]["template_design_off"])


def figures(run: dict[str, Any]) -> str:
    return (
        f"sustains {run['throughput']:,.0f} msg/s of {run['offered']:,.0f} offered (busiest stage {run['busiest']} at "
        f"{run['busiest_share'] * 100:.0f}%, p99 {p99(run)} s, bound by {binding(run)})"
    )


def default_design(payload: dict[str, Any]) -> str:
    """The line on the template's default (``Combining`` "false"): the most it sustains at default quotas, and where
    it stops with them raised (where the combining level must be on)."""
    off = deployed_off(payload)
    kept = [r for r in payload["default"] if r["design"] == off.value and r["keeps_up"]]
    best = max(kept, key=lambda r: r["offered"]) if kept else None
    raised = [r for r in payload["raised"] if r["design"] == off.value]
    parts = [f"{label(off.value)}, the template's default, pessimistic:"]
    if best is not None:
        parts.append(f"at default quotas keeps up with {n(best['offered'])} msg/s (p99 {p99(best)} s);")
    parts += [f"quotas raised, {figures(r)};" for r in raised]
    return " ".join(parts).rstrip(";")


def units_a_message(payload: dict[str, Any], run: dict[str, Any]) -> float:
    """The design's write units a message: at the target if it keeps up there (the whole run's units over its
    messages), else through one lane with batches of 1,000 (a run that falls behind wrote for messages it did not
    make visible)."""
    if run["keeps_up"]:
        return float(run["write_units_per_message"])
    name = f"{run['design']}, map batches of 1,000"
    return float(next(r["total"] for r in payload["write_units"]["rows"] if r["name"] == name))


def summary(payload: dict[str, Any]) -> str:
    """The last line: the design the template deploys."""
    top = find(payload["raised"], deployed(payload), TARGET)
    default = find(payload["default"], deployed(payload), DEFAULT_TARGET)
    return (
        f"capacity: sustains {top['throughput']:,.0f} msg/s of {TARGET:,} offered, quotas raised, pessimistic "
        f"(busiest stage {top['busiest']} at {top['busiest_share'] * 100:.0f}%, p99 {top['p99']:.1f} s); "
        f"{default['throughput']:,.0f} msg/s of {DEFAULT_TARGET:,} at default quotas (bound by {binding(default)}); "
        f"{units_a_message(payload, top):.2f} write units a message"
    )


def run_rows(runs: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| design | offered | sustained | keeps up | p50 / p99 (s) | busiest stage | binds | hand bound |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        bound = r["bound"]
        above = " **ABOVE THE HAND BOUND**" if r["visible_per_second"] > 1.01 * bound["messages_per_second"] else ""
        rows.append(
            f"| {label(r['design'])} | {n(r['offered'])} | {n(r['throughput'])}{above} | "
            f"{'yes' if r['keeps_up'] else 'no'} | {r['p50']:.1f} / {p99(r)} | {r['busiest']} {r['busiest_share']:.0%} "
            f"| {binding(r)} | {bound['name']} {n(bound['messages_per_second'])} |"
        )
    return rows


def deployment_rows(payload: dict[str, Any]) -> list[str]:
    rows = payload["deployments"]
    keys = [k for k in rows[0] if k not in ("offered", "quotas")]
    lines = ["| offered | quotas | " + " | ".join(f"`{k}`" for k in keys) + " |", "|---" * (len(keys) + 2) + "|"]
    lines += [f"| {n(r['offered'])} | {r['quotas']} | " + " | ".join(n(r[k]) for k in keys) + " |" for r in rows]
    return lines


def stage_rows(runs: list[dict[str, Any]]) -> list[str]:
    """Each run's stages: how busy their lanes were, and the deployment's lanes."""
    lines = [
        "| design | offered | quotas | busy: "
        + ", ".join(("state", "map", "combine", "reducer"))
        + " | lanes (fleet) |"
    ]
    lines.append("|---|---|---|---|---|")
    for r in runs:
        busy = ", ".join(f"{r['busy'].get(k, 0):.0%}" for k in ("state_lanes", "map_lanes", "combine_lanes", "reducer"))
        lanes = ", ".join(
            f"{k.removesuffix(' lanes')} {v:,}" for k, v in r["deployment"].items() if k.endswith("lanes")
        )
        lines.append(f"| {label(r['design'])} | {n(r['offered'])} | {r['quotas']} | {busy} | {lanes} |")
    return lines


def scaling_lines(payload: dict[str, Any]) -> list[str]:
    """Each function's concurrency at the target (its lanes' busy share x its lanes), and how long Lambda's scaling
    rate (1,000 execution environments every 10 seconds per function) takes to reach it from cold: the model starts
    with its functions scaled (sustained throughput is about the steady state), a burst from cold would wait that."""
    lines = []
    for r in (r for r in payload["raised"] if r["offered"] == TARGET):
        lanes = {k.removesuffix(" lanes"): v for k, v in r["deployment"].items() if k.endswith(" lanes")}
        names = {"state": "state_lanes", "map": "map_lanes", "combine": "combine_lanes", "reduce": "reducer"}
        mean = {stage: r["busy"].get(names[stage], 0.0) * n for stage, n in lanes.items()}
        parts = [
            f"{stage} {c:,.{0 if c >= 10 else 1}f} ({max(1, math.ceil(c / 1000)) * 10} s)" for stage, c in mean.items()
        ]
        lines.append(f"* {label(r['design'])}: " + ", ".join(parts))
    return lines


def shards(count: int) -> str:
    return "1 stream shard (one poller)" if count == 1 else f"{count:,} stream shards (a poller each)"


def reducer_lines(payload: dict[str, Any]) -> list[str]:
    lines = []
    for r in payload["raised"]:
        f = r["reduce"]
        if not f or r["offered"] not in (50_000, 200_000, TARGET):
            continue
        combined = (
            f", {f['partials_per_combined']:.0f} of the map's partials in each combined partial"
            if "partials_per_combined" in f
            else ""
        )
        lines.append(
            f"* {label(r['design'])} at {n(r['offered'])}: {shards(r['deployment']['reducer stream shards'])}, "
            f"{f['invocations_per_second']:.1f} invocations/s, "
            f"{f['partials_per_second']:,.0f} partials/s in {f['transactions_per_second']:.1f} transactions/s "
            f"({f['partials_per_transaction']:.0f} each){combined}; its time: transactions "
            f"{f['share_transactions']:.0%}, CPU {f['share_cpu']:.0%}, invocation overhead "
            f"{f['share_overhead']:.0%}; pollers throttled {r['throttles'].get('reduce', 0):,.0f} times"
        )
    return lines


def sensitivity_rows(payload: dict[str, Any]) -> list[str]:
    lines = []
    for design in sorted({r["design"] for r in payload["sensitivity"]}):
        top = find(payload["raised"], Design(design), TARGET)
        lines += [
            f"{label(design)} at {TARGET:,} offered, quotas raised, one parameter at a time from the pessimistic "
            "corner:",
            "",
            "| change | sustained | p50 / p99 (s) | busiest stage | binds |",
            "|---|---|---|---|---|",
            f"| none (the pessimistic corner) | {n(top['throughput'])} | {top['p50']:.1f} / {p99(top)} | "
            f"{top['busiest']} {top['busiest_share']:.0%} | {binding(top)} |",
        ]
        for r in (r for r in payload["sensitivity"] if r["design"] == design):
            lines.append(
                f"| {r['change']} | {n(r['throughput'])} | {r['p50']:.1f} / {p99(r)} | {r['busiest']} "
                f"{r['busiest_share']:.0%} | {binding(r)} |"
            )
        lines.append("")
    lines += [
        f"The one-transaction design at {n(payload['old'][0]['offered'])} offered (its ceiling; 20 ms overhead):",
        "",
    ]
    lines += ["| transaction | sustained | message_count's transactions a second | hand bound |", "|---|---|---|---|"]
    for r in payload["old"]:
        lines.append(
            f"| {r['transaction_duration'] * 1000:.0f} ms | {n(r['throughput'])} | "
            f"{r['hot_item_transactions_per_second']:.1f} | {r['bound']['name']} "
            f"{n(r['bound']['messages_per_second'])} |"
        )
    return lines


def units_rows(payload: dict[str, Any]) -> list[str]:
    units = payload["write_units"]
    tables = sorted({t for row in units["rows"] for t in row["units"]})
    lines = [
        "| design, batch | write units a message | " + " | ".join(tables) + " | USD per million messages |",
        "|---" * (len(tables) + 3) + "|",
    ]
    for row in units["rows"]:
        cells = " | ".join(f"{row['units'].get(t, 0):.3f}" for t in tables)
        lines.append(f"| {row['name']} | {row['total']:.2f} | {cells} | {row['dollars']:.2f} |")
    workshop = units["workshop_settings"]
    lines += [
        "",
        "Settings: through one lane, no contention, the map's batches filled to the size of the row; ours with the "
        "template's StateBatchSize (100), the reduce's and the combining lanes' BatchSize (1,000) and their windows "
        "long enough to fill them; the workshop's with its own: the StateLambda's trigger "
        f"{workshop['state_batch_size']:,} (one write a record), its map's batch of the row (one item a batch; its "
        f"mapping's BatchSize is {workshop['map_batch_size']:,} with a 3 s window), its reduce's "
        f"{workshop['reduce_batch_size']:,} (one transaction of every aggregate an invocation, taken here as one map "
        "item an invocation: the most it costs). The workshop's design is not exactly once; its write units only.",
        "",
        f"Price: {units['price']}.",
    ]
    return lines


def parameter_rows(payload: dict[str, Any]) -> list[str]:
    lines = ["| parameter | value | source | meaning |", "|---|---|---|---|"]
    lines += [
        f"| `{name}` | {value} | {source} | {meaning} |" for name, value, source, meaning in payload["parameters"]
    ]
    return lines


def render(payload: dict[str, Any]) -> str:
    m = payload["meta"]
    parts = [
        f"Run of {m['date']}, commit {m['commit']}: {m['wall_seconds']} s of wall time, {m['cpu_seconds']} s of CPU "
        f"(load average {', '.join(str(x) for x in m['load_average'])} at its end; the machine's cores were shared).",
        "",
        "#### The deployment modelled",
        "",
        f"template.yaml with samconfig.toml's `{m['environment']}` parameters; for each offered load, the shards and"
        " each table's warm throughput sized by the rules of `capacity/deployment.py`:",
        "",
        *deployment_rows(payload),
        "",
        "#### Default quotas (pessimistic corner: 50 ms transactions, 100 ms of invocation overhead)",
        "",
        *run_rows(payload["default"]),
        "",
        "#### Quotas raised (pessimistic corner)",
        "",
        *run_rows(payload["raised"]),
        "",
        "How busy each stage's lanes were (the mean over its lanes, in the steady window):",
        "",
        *stage_rows(payload["default"] + payload["raised"]),
        "",
        "Concurrent executions at the target, each function's (and the time to reach it from cold at Lambda's "
        "documented scaling rate):",
        "",
        *scaling_lines(payload),
        "",
        "#### The one reducer",
        "",
        *reducer_lines(payload),
        "",
        "#### Sensitivity",
        "",
        *sensitivity_rows(payload),
        "",
        "#### Write units and cost per million messages",
        "",
        *units_rows(payload),
        "",
        "#### Every parameter, with its source",
        "",
        *parameter_rows(payload),
        "",
        default_design(payload),
        "",
        summary(payload),
    ]
    return "\n".join(parts)


def render_page_block(page: str, payload: dict[str, Any]) -> str:
    """``page`` with its block between the markers rendered from ``payload``."""
    head, found, rest = page.partition(BEGIN)
    if not found:
        raise ValueError(f"{PAGE.name} has no block for the capacity results ({BEGIN})")
    _, found, tail = rest.partition(END)
    if not found:
        raise ValueError(f"{PAGE.name}'s block for the capacity results has no end ({END})")
    return f"{head}{BEGIN}\n{render(payload)}\n{END}{tail}"


def page_block(page: str) -> str:
    """What docs/performance.md holds between the markers."""
    return page.partition(BEGIN)[2].partition(END)[0].strip("\n")
