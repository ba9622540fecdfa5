"""The chart of ``make capacity``: sustained against offered load, each design at default quotas and raised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from capacity.report import label


def series(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(design, quotas) -> its (offered, sustained) points, a collapse to 0 left out (a log scale has no 0)."""
    points: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in sorted(runs, key=lambda r: r["offered"]):
        if r["throughput"] >= 1:
            points.setdefault((r["design"], r["quotas"]), []).append((r["offered"], r["throughput"]))
    return points


def chart(payload: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    runs = payload["default"] + payload["raised"]
    loads = sorted({r["offered"] for r in runs})
    axes.plot(loads, loads, linestyle=":", color="grey", label="offered")
    for (design, quotas), points in sorted(series(runs).items()):
        style = "--s" if quotas == "raised" else "-o"
        axes.plot(*zip(*points, strict=True), style, label=f"{label(design)}, {quotas} quotas")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("offered load (messages/s)")
    axes.set_ylabel("sustained throughput (messages/s)")
    axes.set_title("Capacity model, pessimistic corner: sustained throughput against offered load")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
