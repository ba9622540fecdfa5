"""docs/performance.md takes every figure of the capacity model's last run from capacity/results/capacity.json:
its block is that file rendered again, and the last line has the form the issue asks for."""

import json
import re
from pathlib import Path

from capacity.report import PAGE, page_block, render, summary

RESULTS = Path(__file__).resolve().parents[2] / "capacity" / "results" / "capacity.json"
LAST_LINE = re.compile(
    r"capacity: sustains \d{1,3}(,\d{3})* msg/s of 1,000,000 offered, quotas raised, pessimistic "
    r"\(busiest stage [a-z_]+ at \d+%, p99 \d+\.\d s\); \d{1,3}(,\d{3})* msg/s of 50,000 at default quotas "
    r"\(bound by [a-z_]+\); \d+\.\d\d write units a message"
)


def test_given_the_last_run_when_the_page_is_read_then_its_block_is_the_run_rendered_again():
    payload = json.loads(RESULTS.read_text())
    assert page_block(PAGE.read_text()) == render(payload)


def test_given_the_last_run_when_summed_up_then_its_last_line_has_the_asked_form():
    payload = json.loads(RESULTS.read_text())
    assert LAST_LINE.fullmatch(summary(payload)), summary(payload)
    assert render(payload).splitlines()[-1] == summary(payload)


def test_given_the_last_run_when_each_figure_is_read_then_none_is_above_its_hand_bound():
    payload = json.loads(RESULTS.read_text())
    runs = payload["default"] + payload["raised"] + payload["sensitivity"] + payload["old"]
    assert runs
    for run in runs:
        bound = min(b["messages_per_second"] for b in run["bounds"])
        assert run["visible_per_second"] <= 1.01 * bound, (run["design"], run["offered"], run["bound"])
        assert run["throughput"] <= 1.01 * bound, (run["design"], run["offered"], run["bound"])
