"""docs/results.md: the newest result of each kind of run, with its date and commit, and a clear line for a kind
that has not run yet."""

import json

from benchmarks.results_page import latest, render, write_result

BENCH_ROW = {"group": "cost", "what": "calls / message", "figure": 0.77, "unit": "", "target": "<= 1", "met": True}


def test_given_results_written_when_the_latest_is_read_then_it_is_the_newest_with_its_commit(tmp_path):
    (tmp_path / "20260101T000000Z.json").write_text(json.dumps({"when": "20260101T000000Z", "rows": []}))
    written = write_result("bench", {"rows": [BENCH_ROW]}, tmp_path)
    newest = latest(tmp_path)
    assert newest is not None
    assert newest["rows"] == [BENCH_ROW] and newest["kind"] == "bench"
    assert newest["when"] == written.stem and newest["commit"]


def test_given_no_result_when_rendered_then_the_page_says_which_command_makes_one(tmp_path):
    assert latest(tmp_path) is None
    page = render({"bench": None, "soak": None})
    assert "## `make bench`: no result yet (run `make bench`, then `make results`)" in page
    assert "## `make soak`: no result yet" in page


def test_given_a_bench_and_a_soak_when_rendered_then_each_figure_shows_with_date_and_commit():
    bench = {
        "when": "20261201T101500Z",
        "commit": "abc123",
        "seconds": 118,
        "python": "3.13.1",
        "rows": [BENCH_ROW, BENCH_ROW | {"what": "a | b", "figure": float("nan"), "met": False, "note": "x"}],
    }
    soak = {"when": "20261201T110000Z", "commit": "def456", "figures": {"histories": 1000, "records": 7840}}
    page = render({"bench": bench, "soak": soak})
    assert "## `make bench`: 2026-12-01 10:15 UTC, commit `abc123`" in page
    assert "| cost | calls / message | 0.77 | <= 1 | yes |  |" in page
    assert "| cost | a \\| b | n/a | <= 1 | **no** | x |" in page
    assert "## `make soak`: 2026-12-01 11:00 UTC, commit `def456`" in page
    assert "1,000 histories, 0 violations." in page and "| records sent | 7,840 |" in page


def test_given_a_soak_that_found_a_violation_when_rendered_then_the_page_says_so():
    soak = {"when": "20261201T110000Z", "commit": "c", "figures": {"histories": 10}, "failed_runs": 1}
    assert "10 histories, VIOLATED in 1 run(s)." in render({"bench": None, "soak": soak})
