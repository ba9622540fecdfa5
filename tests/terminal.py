"""A real terminal for the tests of terminal views (``make watch``, the workshop's curses frontend): a tmux server
of the test's own (its own socket, so no other tmux is touched), one window of a fixed size running the command,
its screen read with ``capture-pane``. Leaving the ``with`` block kills that server and everything it runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

COLUMNS, ROWS = 132, 50


def require_tmux() -> str:
    """tmux's path; a test without it is skipped, saying so, except in CI, where .ci/run installs it: there its
    absence is a failure (a terminal test that never runs proves nothing)."""
    found = shutil.which("tmux")
    if found:
        return found
    message = "tmux is not installed (Debian: apt-get install tmux; .ci/run installs it in CI)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Terminal:
    """One tmux window running a command; ``screens`` keeps every screen read, for the failure message."""

    tmux: str
    socket: Path
    env: Mapping[str, str] = field(default_factory=dict)  # the server's, given when it starts
    screens: list[str] = field(default_factory=list)

    def _run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        command = [self.tmux, "-S", str(self.socket), *arguments]
        return subprocess.run(command, env=self.env or None, capture_output=True, text=True, timeout=20, check=False)

    def screen(self) -> str:
        """What the window shows now (its visible rows)."""
        text = self._run("capture-pane", "-p", "-t", "view").stdout
        self.screens.append(text)
        return text

    def alive(self) -> bool:
        """Whether the command still runs (the window closes when it ends: remain-on-exit is off)."""
        return self._run("has-session", "-t", "view").returncode == 0

    def history(self, last: int = 3) -> str:
        return "\n----- screen -----\n".join(self.screens[-last:])


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """What the tmux server (and so the command) gets: the basics of this environment, none of make's or pytest's
    variables (an outer make's jobserver, xdist's worker), and ``extra``."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "USER", "TMPDIR", "PYTHONPATH", "AWS_DEFAULT_REGION")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, "TERM": "xterm-256color", **extra}


@contextmanager
def terminal(command: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> Iterator[Terminal]:
    """``command`` in a window of COLUMNS x ROWS of a tmux server of its own (its socket in a folder of its own),
    killed on leaving, its folder removed."""
    tmux = require_tmux()
    folder = Path(tempfile.mkdtemp(prefix="risk-pipeline-tmux-"))
    view = Terminal(tmux, folder / "socket", clean_environment(env or {}))
    size = ["-x", str(COLUMNS), "-y", str(ROWS)]
    try:
        started = view._run("-f", "/dev/null", "new-session", "-d", "-s", "view", *size, "-c", str(cwd), "--", *command)
        assert started.returncode == 0, f"tmux did not start: {started.stderr}"
        yield view
    finally:
        view._run("kill-server")  # this test's server only: its window, the command and the command's children
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_screens(view: Terminal, done: Callable[[list[str]], bool], seconds: float, every: float = 0.5) -> None:
    """Read the screen every ``every`` seconds until ``done(screens so far)`` holds, the command ends, or ``seconds``
    pass (the caller asserts on what was seen)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and view.alive():
        view.screen()
        if done(view.screens):
            return
        time.sleep(every)


NUMBER = r"-?[\d,]+\.\d{2}"


def numbers_by_identifier(screen: str, pattern: str) -> dict[str, str]:
    """Every ``identifier value`` a screen shows, by a pattern with the groups ``id`` and ``value``."""
    return {m["id"]: m["value"] for m in re.finditer(pattern, screen, flags=re.MULTILINE)}
