"""``make capacity``: both aggregate designs at every offered load, the quotas raised, the sensitivity to the two
least certain parameters, write units per message at batches of 100 and 1,000; a table, JSON and a PNG chart in
capacity/results/, and one last line that sums it up."""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from capacity.model import CURRENT, NEW, Result, Simulation, one_lane
from capacity.params import Params
from capacity.traffic import WorkshopTraffic
from results.record import publish

RESULTS = Path(__file__).resolve().parent / "results"
LOADS = (1_000, 5_000, 10_000, 50_000, 100_000, 200_000)
RAISED_LOADS = (50_000, 100_000, 200_000)
TARGET_LOAD = 50_000
SENSITIVITY: dict[str, tuple[float, ...]] = {
    "transaction_duration": (0.010, 0.025, 0.050),
    "invoke_overhead": (0.005, 0.020, 0.100),
}
COLLAPSE_NOTE_OFFSET = {NEW: -16, CURRENT: -6}  # points left of a load where the design collapsed: side by side
NAMES = {CURRENT: "current (one transaction: markers + aggregates)", NEW: "new (map: markers + partial; reduce)"}


_TRAFFIC: WorkshopTraffic | None = None


def traffic() -> WorkshopTraffic:
    """The workshop's calls, generated once per process."""
    global _TRAFFIC
    if _TRAFFIC is None:
        _TRAFFIC = WorkshopTraffic()
    return _TRAFFIC


def run(design: str, load: float, params: Params, quotas: str = "default") -> Result:
    return Simulation(design, load, params, traffic(), quotas=quotas).run()


def one_lane_write_units(design: str, batch_size: int, params: Params) -> dict[str, float]:
    """Write units per message of each table, for the first 60 workshop calls through one lane."""
    burst = [record for _, call in zip(range(60), traffic().calls(), strict=False) for record in call]
    result = one_lane(design, burst, batch_size, params, traffic())
    return {table: units / len(burst) for table, units in result.write_units_total.items()}


def p99_text(result: Result) -> str:
    return f"{'>' if result.p99_censored else ''}{result.p99:.1f}"


def fmt_latency(result: Result) -> str:
    return f"{result.p50:5.1f} {p99_text(result):>6}"


def table_row(result: Result) -> str:
    return (
        f"{result.design:8} {result.quotas:8} {result.offered:>9,.0f} {result.throughput:>10,.0f} "
        f"{result.conflicts_per_transaction:>8.1%} {result.retries:>8,} {result.failed_batches:>7,} "
        f"{fmt_latency(result)} {result.write_units_per_message:>6.2f}  {result.binds}".replace("   nan", "   n/a")
    )


HEADER = (
    f"{'design':8} {'quotas':8} {'offered':>9} {'sustained':>10} {'conflict':>8} {'retries':>8} {'failed':>7} "
    f"{'p50':>5} {'p99':>6} {'WCU/m':>6}  binds"
)


def chart(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    axes.plot(LOADS, LOADS, linestyle=":", color="grey", label="offered")
    for design, quotas, style in ((NEW, "default", "-o"), (NEW, "raised", "--s"), (CURRENT, "default", "-^")):
        runs = sorted((r.offered, r.throughput) for r in results if r.design == design and r.quotas == quotas)
        points = [(x, y) for x, y in runs if y >= 1]  # a log scale has no 0: a collapse is written beside the axis
        if points:
            axes.plot(*zip(*points, strict=True), style, label=f"{NAMES[design]}, {quotas} quotas")
        for x, y in runs:
            if y < 1:
                axes.annotate(
                    f"{design}: ~0 (quotas exceeded)",
                    (x, LOADS[0]),
                    xytext=(COLLAPSE_NOTE_OFFSET[design], 0),
                    textcoords="offset points",
                    fontsize=7,
                    rotation=90,
                    va="bottom",
                )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("offered load (messages/s)")
    axes.set_ylabel("sustained throughput (messages/s)")
    axes.set_title("Capacity model: sustained throughput against offered load")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


Varied = list[tuple[str, float, Params]]  # parameter, value, the parameters with it


@dataclass
class Runs:
    """Every run of the model, submitted at once (each is seeded, so the order of execution changes nothing)."""

    table: list[Future[Result]]  # both designs at every load, default quotas
    raised: list[Future[Result]]  # the new design, quotas raised
    sensitive: list[tuple[str, float, Future[Result], Future[Result]]]  # new at the target load, current at 10,000
    sensitive_top: list[tuple[str, float, Future[Result]]]  # new at the highest load
    lanes: dict[tuple[str, int], Future[dict[str, float]]]  # (design, batch size) -> write units per message

    @classmethod
    def submit(cls, pool: Executor, params: Params, varied: Varied) -> Runs:
        table = [pool.submit(run, d, load, params) for d in (NEW, CURRENT) for load in LOADS]
        raised = [pool.submit(run, NEW, load, params.raised(), "raised") for load in RAISED_LOADS]
        sensitive = [
            (
                name,
                value,
                pool.submit(run, NEW, TARGET_LOAD, p.raised(), "raised"),
                pool.submit(run, CURRENT, 10_000, p),
            )
            for name, value, p in varied
        ]
        sensitive_top = [(n, v, pool.submit(run, NEW, max(LOADS), p.raised(), "raised")) for n, v, p in varied]
        lanes = {(d, b): pool.submit(one_lane_write_units, d, b, params) for d in (NEW, CURRENT) for b in (100, 1000)}
        return cls(table, raised, sensitive, sensitive_top, lanes)


def varied_parameters(params: Params) -> Varied:
    """The parameters with each value of SENSITIVITY other than the one they have."""
    return [
        (name, value, replace(params, **{name: value}))  # type: ignore[arg-type]
        for name, values in SENSITIVITY.items()
        for value in values
        if value != getattr(params, name)
    ]


def find(results: list[Result], design: str, offered: float, quotas: str = "default") -> Result:
    return next(r for r in results if r.design == design and r.offered == offered and r.quotas == quotas)


def current_ceiling(results: list[Result]) -> Result:
    """Today's design at its highest throughput, among the runs bound by an item if there are any."""
    current = [r for r in results if r.design == CURRENT and r.binds.startswith("item")]
    return max(current or [r for r in results if r.design == CURRENT], key=lambda r: r.throughput)


def print_rows(submitted: list[Future[Result]]) -> list[Result]:
    """A row of the table for each run, as it ends; the runs' results."""
    results = []
    for future in submitted:
        results.append(future.result())
        print(table_row(results[-1]), flush=True)
    return results


def print_table(runs: Runs) -> list[Result]:
    """Both designs at every load, default quotas."""
    print("Capacity model: the pipeline as deployed, in simulated time (see README, Performance)")
    print(HEADER)
    return print_rows(runs.table)


def print_raised(runs: Runs) -> list[Result]:
    """The new design with the quotas raised."""
    print("\nQuotas raised (table write quota, Lambda concurrency); per-partition and per-item limits unchanged:")
    return print_rows(runs.raised)


def print_reducer(results: list[Result]) -> None:
    """What the one reducer does at the highest load, quotas raised, and where its time goes."""
    top = find(results, NEW, max(LOADS), "raised")
    r = top.reduce
    if not r:
        return
    print(
        f"The reducer at {top.offered:,.0f} (raised): {r['partials_per_second']:,.0f} partials/s in "
        f"{r['transactions_per_second']:.1f} transactions/s ({r['partials_per_transaction']:.0f} partials each: a "
        f"delete per partial beside the aggregates it moves, 100 items at most), {r['invocations_per_second']:.1f} "
        f"invocations/s; its time: transactions {r['share_transactions']:.0%}, CPU {r['share_cpu']:.0%}, "
        f"invocation overhead {r['share_overhead']:.0%}"
    )


def print_hot_item(ceiling: Result, params: Params) -> None:
    print(
        "\nOne item every transaction touches (today's message_count): "
        f"{ceiling.hot_item_transactions_per_second:.1f} transactions/s at {ceiling.offered:,.0f} offered; "
        f"1 / transaction duration = {1 / params.transaction_duration:.1f}"
    )


def print_sensitivity(results: list[Result], runs: Runs) -> list[dict[str, object]]:
    """The base runs, then each varied parameter's; the varied runs for the JSON."""
    new_raised = find(results, NEW, TARGET_LOAD, "raised")
    old_base = find(results, CURRENT, 10_000)
    top = find(results, NEW, max(LOADS), "raised")
    print("\nSensitivity to the two least certain parameters (everything else as above; base 25 ms and 20 ms):")
    print(
        f"  base: new at 50,000 (quotas raised) {new_raised.throughput:,.0f} msg/s, p99 {p99_text(new_raised)} s; "
        f"current at 10,000 {old_base.throughput:,.0f} msg/s; new at 200,000 (raised) {top.throughput:,.0f} msg/s, "
        f"reduce {top.utilisation['reduce']:.0%} busy"
    )
    sensitivity: list[dict[str, object]] = []
    for (name, value, new_future, old_future), (_, _, top_future) in zip(
        runs.sensitive, runs.sensitive_top, strict=True
    ):
        new, old, high = new_future.result(), old_future.result(), top_future.result()
        sensitivity.append(
            {"parameter": name, "value": value, "new": asdict(new), "current": asdict(old), "new_200k": asdict(high)}
        )
        print(
            f"  {name} {value * 1000:>3.0f} ms: new at 50,000 {new.throughput:,.0f} msg/s, p99 {p99_text(new)} s, "
            f"conflicts {new.conflicts_per_transaction:.1%}; current at 10,000 {old.throughput:,.0f} msg/s; "
            f"new at 200,000 {high.throughput:,.0f} msg/s, p99 {p99_text(high)} s, reduce "
            f"{high.utilisation['reduce']:.0%} busy ({high.binds})",
            flush=True,
        )
    return sensitivity


def print_write_units(lanes: dict[tuple[str, int], Future[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Write units per message of each design and batch size through one lane; them by table for the JSON."""
    print("\nWrite units per message, one shard and one lane, no contention, batches filled to the size:")
    write_units: dict[str, dict[str, float]] = {}
    for (design, batch), lane in lanes.items():
        units = write_units[f"{design}, batches of {batch}"] = lane.result()
        detail = ", ".join(f"{table} {value:.2f}" for table, value in units.items() if value)
        print(f"  {design:7} batches of {batch:>5,}: {sum(units.values()):.2f} ({detail})")
    print(
        "  The markers (2 write units a trade change: a transactional write) and the StateTable's one conditional "
        "write a trade and batch are the floor of exactly-once here; the new design adds only its partials."
    )
    return write_units


def print_targets(results: list[Result], ceiling: Result) -> None:
    new_default = find(results, NEW, TARGET_LOAD)
    new_raised = find(results, NEW, TARGET_LOAD, "raised")
    top = find(results, NEW, max(LOADS), "raised")
    print("\nTargets, side by side:")
    print(
        f"  new design >= 50,000 msg/s at default quotas: {new_default.throughput:,.0f} (binds: {new_default.binds}); "
        f"quotas raised: {new_raised.throughput:,.0f}"
    )
    print(
        f"  < 1% conflicting transactions: {new_raised.conflicts_per_transaction:.2%}; p99 <= 5 s: "
        f"{p99_text(new_raised)} s"
    )
    print(f"  200,000 msg/s with quotas raised: {top.throughput:,.0f} (binds: {top.binds})")
    print(f"  current design ceiling: {ceiling.throughput:,.0f} msg/s (bound by {ceiling.binds})")


def write_results(out: Path, payload: dict[str, object], results: list[Result]) -> None:
    """The JSON and the chart in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "capacity.json").write_text(json.dumps(payload, indent=1, default=str))
    chart(results, out / "capacity.png")


def print_summary(results: list[Result], ceiling: Result) -> None:
    """The one last line that sums it up."""
    new_default = find(results, NEW, TARGET_LOAD)
    print(
        f"capacity: new design sustains {new_default.throughput:,.0f} msg/s at 50,000 offered "
        f"(conflicts {new_default.conflicts_per_transaction:.1%}, p99 {p99_text(new_default)} s); "
        f"current design ceiling {ceiling.throughput:,.0f} msg/s (bound by {ceiling.binds.split(' (')[0]})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m capacity", description=__doc__)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    args = parser.parse_args()
    started = time.perf_counter()
    params = Params.from_template()
    traffic()  # generated before the workers start: they inherit it (fork, Linux's default), not generate it again
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = Runs.submit(pool, params, varied_parameters(params))
        results = print_table(runs) + print_raised(runs)
        print_reducer(results)
        ceiling = current_ceiling(results)
        print_hot_item(ceiling, params)
        sensitivity = print_sensitivity(results, runs)
        write_units = print_write_units(runs.lanes)
    print_targets(results, ceiling)
    payload = {
        "parameters": asdict(params),
        "results": [asdict(r) for r in results],
        "sensitivity": sensitivity,
        "write_units_per_message_one_lane": write_units,
        "seconds": time.perf_counter() - started,
    }
    write_results(args.out, payload, results)
    publish("capacity", payload)
    print(
        f"\nWrote {args.out / 'capacity.json'} and {args.out / 'capacity.png'} in {time.perf_counter() - started:.0f} s"
    )
    print_summary(results, ceiling)


if __name__ == "__main__":
    main()
