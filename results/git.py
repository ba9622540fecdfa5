"""The commit a result was measured on, and whether the code has changed since.

The code is everything but the documentation and what a run writes: a commit that touches only ``docs/``, Markdown
files or ``capacity/results/`` (a result published, a page rewritten, the capacity model's tables and chart) leaves a
result current; any other commit after it makes it older than the code.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What counts as code, as git pathspecs: everything but docs/, Markdown files (at any depth) and the capacity
# model's output.
CODE = (".", ":(exclude)docs", ":(exclude)*.md", ":(exclude)capacity/results")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Commit:
    """The checkout's commit (its full id; ``unknown`` outside git) and whether its code had uncommitted changes."""

    id: str
    dirty: bool

    @property
    def short(self) -> str:
        return self.id[:12] + ("-dirty" if self.dirty else "")


@dataclass(frozen=True)
class Freshness:
    """How a result's commit stands against the checkout's: ``changes`` is the number of later commits on this
    checkout's history that changed the code, ``None`` when the result's commit is not in that history."""

    changes: int | None
    dirty: bool

    @property
    def current(self) -> bool:
        return self.changes == 0 and not self.dirty

    def sentence(self) -> str:
        if self.changes is None:
            return "**Older than the code, or from another branch**: its commit is not in this checkout's history"
        if self.changes:
            later = "1 later commit has" if self.changes == 1 else f"{self.changes} later commits have"
            return f"**Older than the code**: {later} changed the code since"
        if self.dirty:
            return "**Measured on uncommitted changes** to the code of that commit"
        return "The code has not changed since"


class Git:
    """git in the checkout at ``root``; every question answered ``None`` (unknown) when git cannot answer."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root

    def _run(self, *args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True, check=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    def commit(self) -> Commit:
        """HEAD, dirty when the code (not the docs, not the results) differs from it, untracked files included."""
        head = self._run("rev-parse", "HEAD")
        if head is None:
            return Commit(UNKNOWN, dirty=False)
        return Commit(head, dirty=bool(self._run("status", "--porcelain", "--", *CODE)))

    def freshness(self, commit: str, *, dirty: bool) -> Freshness:
        """How the code of HEAD stands against ``commit``: the commits after it that changed the code."""
        if commit == UNKNOWN or self._run("merge-base", "--is-ancestor", commit, "HEAD") is None:
            return Freshness(None, dirty)
        counted = self._run("rev-list", "--count", f"{commit}..HEAD", "--", *CODE)
        return Freshness(None if counted is None else int(counted), dirty)
