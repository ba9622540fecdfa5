"""``make watch`` in a real terminal (tmux): on a local run (no stack needed, so it runs in ``make test`` and in CI)
its live view shows message_count and the identifiers of the aggregate tree moving while the run's traffic flows."""

from __future__ import annotations

import itertools
import re

from tests.conftest import ROOT
from tests.terminal import NUMBER, numbers_by_identifier, terminal, wait_for_screens

SECONDS = 45  # how long the view runs; the test gives up a little after
TREE_LINE = rf"^[│├└─ ]*[├└]── (?P<id>[A-Za-z]+)  (?P<value>{NUMBER})$"


def message_counts(screens: list[str]) -> list[int]:
    return [int(m[1]) for s in screens if (m := re.search(r"message_count (\d+)", s))]


def moved(screens: list[str]) -> bool:
    """message_count rose at least twice, and the tree's identifiers changed value between two screens."""
    counts = sorted(set(message_counts(screens)))
    trees = [numbers_by_identifier(s, TREE_LINE) for s in screens]
    trees = [t for t in trees if "Delta" in t or "PV" in t]
    return len([c for c in counts if c > 0]) >= 2 and any(a != b for a, b in itertools.pairwise(trees))


def test_given_a_local_run_when_make_watch_runs_in_a_terminal_then_message_count_and_the_aggregates_move():
    # Given make watch on a local run (its own moto server and traffic), in a terminal
    command = ["make", "--no-print-directory", "watch", f"ARGS=--local-pipeline --seconds {SECONDS} --messages 4000"]
    with terminal(command, cwd=ROOT) as view:
        # When its screen is read twice a second while the run's traffic flows
        wait_for_screens(view, moved, seconds=SECONDS + 30)

    # Then message_count rose and the aggregates of the tree's identifiers changed on screen
    counts = message_counts(view.screens)
    assert len({c for c in counts if c > 0}) >= 2, f"message_count did not move: {counts}\n{view.history()}"
    assert moved(view.screens), f"the aggregates did not move on screen:\n{view.history()}"
    last_tree = numbers_by_identifier(view.screens[-1], TREE_LINE)
    assert {"Delta", "PV", "FXSpot", "FXOptions", "AMER", "APAC", "EMEA"} <= set(last_tree), view.history(1)
