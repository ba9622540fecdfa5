"""A command's result, written as JSON with what makes its figures comparable: the commit (dirty marked), the date,
how long it took, and the machine (cores, CPU, memory, the load average at its start and end, Python, the OS).

``ResultStore.publish(kind, figures)`` writes two files: ``docs/results/<kind>.json``, the latest result of its
kind, committed so that a clean clone renders docs/results.md (``make results``), and
``docs/results/history/<kind>/<UTC time>.json``, every run, git-ignored.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from results.git import ROOT, Commit, Git

PUBLISHED = ROOT / "docs" / "results"
STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Start:
    """When a command started, and the machine's load average then (1, 5 and 15 minutes)."""

    at: datetime
    load: tuple[float, float, float]

    @classmethod
    def now(cls) -> Start:
        return cls(datetime.now(UTC), os.getloadavg())


# The start of the command: this module is imported at the top of every command that publishes, so when it begins.
STARTED = Start.now()


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown"
    names = [line.partition(":")[2].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def machine(start: Start) -> dict[str, Any]:
    """The machine a result was measured on, and how busy it was at the start and at the end."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "load_average_start": [round(x, 2) for x in start.load],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "system": platform.platform(),
        "ci": bool(os.environ.get("CI")),
    }


def _strict(value: Any) -> Any:
    """``value`` with every NaN or infinity as None (JSON has neither), through dicts, lists and tuples."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


@dataclass(frozen=True)
class ResultStore:
    """Where results are written and read: ``<folder>/<kind>.json`` the latest, ``<folder>/history/`` every one."""

    folder: Path = PUBLISHED
    git: Git = field(default_factory=Git)

    def latest(self, kind: str) -> dict[str, Any] | None:
        path = self.folder / f"{kind}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def publish(
        self,
        kind: str,
        figures: dict[str, Any],
        *,
        arguments: Sequence[str] | None = None,
        start: Start = STARTED,
    ) -> Path:
        """``figures`` as the latest result of ``kind`` and in its history; the path of the latest."""
        if not kind.replace("-", "").isalnum():
            raise ValueError(f"a kind is a word (letters, digits, dashes): {kind!r}")
        commit: Commit = self.git.commit()
        now = datetime.now(UTC)
        result = {
            "kind": kind,
            "arguments": list(sys.argv[1:] if arguments is None else arguments),
            "commit": commit.id,
            "dirty": commit.dirty,
            "date": now.isoformat(timespec="seconds"),
            "seconds": round((now - start.at).total_seconds(), 1),
            "machine": machine(start),
            "figures": _strict(figures),
        }
        text = json.dumps(result, indent=1, default=str, allow_nan=False) + "\n"
        history = self.folder / "history" / kind
        history.mkdir(parents=True, exist_ok=True)
        (history / f"{now.strftime(STAMP)}.json").write_text(text)
        latest = self.folder / f"{kind}.json"
        latest.write_text(text)
        return latest


def publish(kind: str, figures: dict[str, Any], *, arguments: Sequence[str] | None = None) -> Path:
    """The one call a command makes: its figures published as the latest result of ``kind`` (docs/results/)."""
    return ResultStore().publish(kind, figures, arguments=arguments)
