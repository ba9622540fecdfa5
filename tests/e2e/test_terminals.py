"""The terminal views of a deployed stack, each in a real terminal (tmux) while traffic flows: ``make watch``, and the
DynamoDB workshop's own ``frontend.py`` against ``make up WORKSHOP=1``. The workshop's code is not this project's
to hold: the frontend is taken at test time from its lab page in a checkout of the workshop (WORKSHOP_CHECKOUT),
into a temporary folder, with only the edit its page asks for (its REGION_NAME); without a checkout it is skipped,
saying so."""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from localpipe.ministack import state
from localpipe.ministack.model import REGION
from tests.conftest import ROOT
from tests.e2e.test_deployed_stack import send_round, wait_for
from tests.terminal import NUMBER, Terminal, numbers_by_identifier, terminal, wait_for_screens

pytestmark = pytest.mark.e2e
WORKSHOP_CHECKOUT = "WORKSHOP_CHECKOUT"
FRONTEND_PAGE = Path("content/event-driven-architecture/ex3fixbugs/Step3.en.md")
WATCH_SECONDS = 150


def frontend_source(checkout: Path, region: str) -> str:
    """The frontend's code block from the workshop's lab 2 optional step, its REGION_NAME set to ``region``."""
    page = (checkout / FRONTEND_PAGE).read_text()
    [code] = [b for b in re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL) if "curses" in b]
    edited, edits = re.subn(r"^(REGION_NAME\s*=\s*)'[^']*'", rf"\g<1>'{region}'", code, flags=re.MULTILINE)
    assert edits == 1, "the frontend's page no longer has the REGION_NAME line it asks to edit"
    return edited


def counts(screens: list[str], pattern: str) -> list[int]:
    return [int(m[1]) for s in screens if (m := re.search(pattern, s))]


def moving(count_pattern: str, line_pattern: str) -> Callable[[list[str]], bool]:
    """The screens showed message_count at two values above the first one, and an identifier's value change."""

    def moved(screens: list[str]) -> bool:
        seen = counts(screens, count_pattern)
        trees = [t for t in (numbers_by_identifier(s, line_pattern) for s in screens) if t]
        rose = len({c for c in seen if seen and c > seen[0]}) >= 2
        return rose and any(a.keys() & b.keys() and a != b for a, b in itertools.pairwise(trees))

    return moved


def watch_traffic(deployed, view: Terminal, ready: Callable[[str], bool], moved: Callable[[list[str]], bool]) -> None:
    """Once the view shows the table, a burst of the workshop's traffic; the screen read until it moved; then the
    burst waited for until its aggregates are exact (the next test's "before" must not move under it)."""
    wait_for_screens(view, lambda screens: ready(screens[-1]), seconds=60)
    assert view.screens and ready(view.screens[-1]), f"the view did not start:\n{view.history()}"
    exact = send_round(deployed, calls=50, seed=31)  # 2,250 records
    wait_for_screens(view, moved, seconds=WATCH_SECONDS - 30)
    assert moved(view.screens), f"message_count and the aggregates did not move on screen:\n{view.history()}"
    assert wait_for(exact), "the aggregates did not move by exactly the burst's values"


WATCH_COUNT = r"message_count (\d+)"
WATCH_LINE = rf"^[│├└─ ]*[├└]── (?P<id>[A-Za-z]+)  (?P<value>{NUMBER})$"


def test_given_the_stack_when_make_watch_runs_in_a_terminal_then_it_shows_the_traffic_arriving(deployed):
    # Given make watch on the stack (make up's, or a deployed one named by RISK_PIPELINE_STACK), in a terminal
    arguments = f"--seconds {WATCH_SECONDS}" + ("" if deployed.local else f" --stack {deployed.name}")
    aws = {} if deployed.local else {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    with terminal(["make", "--no-print-directory", "watch", f"ARGS={arguments}"], cwd=ROOT, env=aws) as view:
        # When a burst is sent while its screen is read, Then message_count and the aggregates move on it
        watch_traffic(deployed, view, lambda screen: "message_count" in screen, moving(WATCH_COUNT, WATCH_LINE))


FRONTEND_COUNT = r"Total number of messages received: (\d+)"
FRONTEND_LINE = rf"^(?P<id>[A-Za-z]+(?::[A-Za-z]+)*) +(?P<value>{NUMBER})\s*$"


def test_given_the_workshops_frontend_when_it_runs_in_a_terminal_then_it_shows_the_traffic_arriving(deployed, tmp_path):
    checkout = os.environ.get(WORKSHOP_CHECKOUT)
    if not checkout:
        pytest.skip(f"{WORKSHOP_CHECKOUT} is not set: the workshop's frontend is read from a checkout of the workshop")
    if not deployed.local or deployed["AggregateTableName"] != "AggregateTable":
        pytest.skip("the workshop's frontend reads the table named AggregateTable: run it on `make up WORKSHOP=1`")
    stack = state.require()
    # Given the frontend from the workshop's page, with its region set to the local stack's, in a temporary folder
    (tmp_path / "frontend.py").write_text(frontend_source(Path(checkout), REGION))
    with terminal([sys.executable, "frontend.py"], cwd=tmp_path, env=stack.environment()) as view:
        # When a burst is sent while its screen is read, Then message_count and the aggregates move on it
        watch_traffic(
            deployed, view, lambda screen: "Total number of messages" in screen, moving(FRONTEND_COUNT, FRONTEND_LINE)
        )
    ids = set(numbers_by_identifier(view.screens[-1], FRONTEND_LINE))
    assert {"Delta", "PV", "Delta:FXSpot", "PV:FXOptions:EMEA"} <= ids, view.history(1)
