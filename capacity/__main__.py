"""``make capacity``: the aggregate stage as the template deploys it (``Combining`` off and on) and two alternatives
to it, at every offered load, at default quotas and with
them raised, every headline figure at the pessimistic corner (50 ms transactions, 100 ms of invocation overhead)
with the sensitivity beside it, the hand bounds, write units and cost per million messages; a markdown report, JSON
and a chart in capacity/results/, the report's block of docs/performance.md rendered from them, and one last line
that sums it up."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capacity.bounds import TrafficCounts, bounds, lowest
from capacity.costs import PRICE_SOURCE, WorkshopSettings, dollars_per_million, workshop_units
from capacity.deployment import Deployment, Design, template_design
from capacity.measure import Result
from capacity.model import Simulation, one_lane
from capacity.params import ENVIRONMENT, Params, deployed_template, parameter_table
from capacity.report import PAGE, render, render_page_block, summary
from capacity.traffic import WorkshopTraffic
from results.record import publish
from riskpipe.partials import plan_combine

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOADS = (1_000, 5_000, 10_000, 20_000, 50_000, 100_000)  # the one-transaction design binds from 5,000 on
# each design's offered loads at default quotas (the alternatives where they show what they show)
DEFAULT_RUNS = {
    Design.MAP_REDUCE: DEFAULT_LOADS,
    Design.MAP_COMBINE_REDUCE: DEFAULT_LOADS,
    Design.MAP_REDUCE_SPREAD: (1_000, 5_000, 10_000, 20_000),
    Design.ONE_TRANSACTION: (1_000, 5_000, 50_000),
}
RAISED_LOADS = {
    Design.MAP_REDUCE: (20_000, 30_000, 50_000),  # where the ReduceTable's one partition starts to bind
    Design.MAP_COMBINE_REDUCE: (50_000, 100_000, 200_000, 500_000, 1_000_000),
    Design.MAP_REDUCE_SPREAD: (50_000,),
}
SENSITIVE = Design.MAP_COMBINE_REDUCE  # the design deployed at the target
TARGET = 1_000_000
DEFAULT_TARGET = 50_000
OLD_LOAD = 10_000  # the one-transaction design's ceiling is read here (it binds far below)
# one parameter at a time from the pessimistic corner (and the base corner), at the target, quotas raised
SENSITIVITY: tuple[tuple[str, dict[str, float]], ...] = (
    ("base corner (25 ms, 20 ms)", {"transaction_duration": 0.025, "invoke_overhead": 0.020}),
    ("transactions 10 ms", {"transaction_duration": 0.010}),
    ("transactions 25 ms", {"transaction_duration": 0.025}),
    ("invocation overhead 5 ms", {"invoke_overhead": 0.005}),
    ("invocation overhead 20 ms", {"invoke_overhead": 0.020}),
    ("throttled pollers back off from 0.1 s", {"throttle_backoff": 0.1}),
    ("stream records readable after 1 s", {"stream_propagation": 1.0}),
)
OLD_SENSITIVITY = (0.010, 0.025, 0.050)  # the one-transaction design's ceiling against the transaction's duration

_TRAFFIC: WorkshopTraffic | None = None


def traffic() -> WorkshopTraffic:
    """The workshop's calls, generated once per process."""
    global _TRAFFIC
    if _TRAFFIC is None:
        _TRAFFIC = WorkshopTraffic()
    return _TRAFFIC


def run(design: Design, load: float, params: Params, quotas: str) -> Result:
    return Simulation(design, load, params, traffic(), quotas=quotas, plan_combine=plan_combine).run()


def lane_units(design: Design, batch_size: int, params: Params) -> dict[str, float]:
    """Write units a message of each table, the first 60 workshop calls through one lane."""
    burst = [record for _, call in zip(range(60), traffic().calls(), strict=False) for record in call]
    result = one_lane(design, burst, batch_size, params, traffic(), plan_combine)
    return result.write_units_by_table


@dataclass
class Runs:
    """Every run, submitted at once (each is seeded: the order of execution changes nothing)."""

    default: list[Future[Result]]
    raised: list[Future[Result]]
    sensitivity: list[tuple[str, Future[Result]]]  # the designs of SENSITIVE, each change
    old: list[tuple[float, Future[Result]]]
    lanes: dict[tuple[str, int], Future[dict[str, float]]]

    @classmethod
    def submit(cls, pool: Executor, params: Params) -> Runs:
        corner = params.pessimistic()
        default = [pool.submit(run, d, load, corner, "default") for d, loads in DEFAULT_RUNS.items() for load in loads]
        raised = [
            pool.submit(run, d, load, corner.raised(), "raised") for d, loads in RAISED_LOADS.items() for load in loads
        ]
        lanes = {(d.value, b): pool.submit(lane_units, d, b, params) for d in Design for b in (100, 1000)}
        return cls(default, raised, submit_sensitivity(pool, corner), submit_old(pool, params), lanes)


def submit_sensitivity(pool: Executor, corner: Params) -> list[tuple[str, Future[Result]]]:
    """The SENSITIVE design at the target, quotas raised, each parameter of SENSITIVITY changed in turn."""
    return [
        (name, pool.submit(run, SENSITIVE, TARGET, replace(corner, **change).raised(), "raised"))  # type: ignore[arg-type]
        for name, change in SENSITIVITY
    ]


def submit_old(pool: Executor, params: Params) -> list[tuple[float, Future[Result]]]:
    """The one-transaction design at the base corner's overhead: its ceiling is the transaction's duration."""
    return [
        (t, pool.submit(run, Design.ONE_TRANSACTION, OLD_LOAD, replace(params, transaction_duration=t), "default"))
        for t in OLD_SENSITIVITY
    ]


def with_bound(result: Result, params: Params, counts: TrafficCounts) -> dict[str, Any]:
    """A run's figures, with every hand bound that applies and the lowest."""
    corner = replace(
        params.raised() if result.quotas == "raised" else params,
        transaction_duration=result.transaction_duration,
        invoke_overhead=result.invoke_overhead,
    )
    deployment = Deployment.for_load(result.offered, corner, counts.record_bytes)
    found = bounds(Design(result.design), corner, deployment, counts)
    return asdict(result) | {"bounds": [asdict(b) for b in found], "bound": asdict(lowest(found))}


def deployments(params: Params) -> list[dict[str, Any]]:
    """The template parameters each offered load is deployed with, at default quotas and raised."""
    rows = []
    for quotas, loads in (("default", DEFAULT_LOADS), ("raised", RAISED_LOADS[Design.MAP_COMBINE_REDUCE])):
        p = params.raised() if quotas == "raised" else params
        for load in loads:
            d = Deployment.for_load(load, p, traffic().record_bytes)
            d.check_template()
            rows.append({"offered": load, "quotas": quotas, **d.template_parameters()})
    return rows


def write_units(runs: Runs, counts: TrafficCounts) -> dict[str, Any]:
    """Write units a message and cost per million, each design and batch size, and the workshop's own."""
    designs = {f"{design}, map batches of {batch:,}": future.result() for (design, batch), future in runs.lanes.items()}
    changes = counts.trades / counts.messages
    settings = WorkshopSettings()
    workshop = {f"workshop, map batches of {b:,}": workshop_units(b, changes) for b in (100, 1000)}
    rows = []
    for name, units in (designs | workshop).items():
        total = sum(units.values())
        rows.append({"name": name, "units": units, "total": total, "dollars": dollars_per_million(total)})
    return {"rows": rows, "price": PRICE_SOURCE, "workshop_settings": asdict(settings)}


def meta(started: float, cpu_started: float) -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT)
    children = os.times()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit.stdout.strip() + (" (dirty tree)" if dirty.stdout.strip() else ""),
        "wall_seconds": round(time.perf_counter() - started),
        "cpu_seconds": round(
            children.user + children.system + children.children_user + children.children_system - cpu_started
        ),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "environment": ENVIRONMENT,
    }


def collect(runs: Runs, params: Params, counts: TrafficCounts) -> dict[str, Any]:
    def done(futures: list[Future[Result]]) -> list[dict[str, Any]]:
        return [with_bound(f.result(), params, counts) for f in futures]

    return {
        "default": done(runs.default),
        "raised": done(runs.raised),
        "sensitivity": [{"change": name} | with_bound(f.result(), params, counts) for name, f in runs.sensitivity],
        "old": [with_bound(f.result(), params, counts) for _, f in runs.old],
        "write_units": write_units(runs, counts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m capacity", description=__doc__)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    parser.add_argument("--no-page", action="store_true", help="leave docs/performance.md as it is")
    parser.add_argument(
        "--render", action="store_true", help="no run: the report and the page again from the last run's JSON"
    )
    args = parser.parse_args()
    if args.render:
        last: dict[str, Any] = json.loads((args.out / "capacity.json").read_text())
        write(args.out, last, page=not args.no_page)
        print(render(last))
        return
    started, times = time.perf_counter(), os.times()
    cpu_started = times.user + times.system + times.children_user + times.children_system
    params = Params.from_template(deployed_template())
    counts = TrafficCounts.of(traffic())  # generated before the workers start: they inherit it (fork)
    payload: dict[str, Any] = {
        "parameters": parameter_table(params),
        "deployments": deployments(params),
        "traffic": asdict(counts) | {"messages_per_trade": counts.messages_per_trade},
    }
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = Runs.submit(pool, params)
        payload |= collect(runs, params, counts)
    designs = {"template_design": template_design().value, "template_design_off": template_design(False).value}
    payload["meta"] = meta(started, cpu_started) | designs
    write(args.out, payload, page=not args.no_page)
    report = render(payload)
    publish("capacity", payload | {"summary": summary(payload), "report": report})
    print(report)


def write(out: Path, payload: dict[str, Any], *, page: bool) -> None:
    """The JSON, the markdown report and the chart in ``out``; the report's block of docs/performance.md."""
    from capacity.chart import chart

    out.mkdir(parents=True, exist_ok=True)
    (out / "capacity.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    (out / "capacity.md").write_text(render(payload) + "\n")
    chart(payload, out / "capacity.png")
    if page:
        PAGE.write_text(render_page_block(PAGE.read_text(), payload))


if __name__ == "__main__":
    main()
