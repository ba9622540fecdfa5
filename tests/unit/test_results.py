"""Results publish themselves: a command's figures written with the commit, the date and the machine, the latest of
each kind rendered in docs/results.md, a result older than the code marked, a kind not run yet said so."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from results import kinds
from results.git import Freshness, Git
from results.page import render
from results.record import PUBLISHED, ResultStore, Start

KINDS = {kind.name: kind for kind in kinds.KINDS}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def commit_file(repo: Path, name: str, text: str) -> str:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"change {name}")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    commit_file(path, "code.py", "x = 1\n")
    return path


class FixedGit(Git):
    """Every result's commit answered with one freshness (rendering tests need no repository)."""

    def __init__(self, freshness: Freshness) -> None:
        super().__init__(Path("/nonexistent"))
        self.fixed = freshness

    def freshness(self, commit: str, *, dirty: bool) -> Freshness:
        return self.fixed


CURRENT = FixedGit(Freshness(0, dirty=False))


def result(kind: str, figures: dict[str, Any], **meta: Any) -> dict[str, Any]:
    machine = {
        "cores": 2,
        "cpu": "Test CPU",
        "memory_gib": 7.8,
        "load_average_start": [1.5, 1.0, 0.5],
        "load_average_end": [3.25, 2.0, 1.0],
        "python": "CPython 3.13.0",
        "system": "Linux-x86_64",
        "ci": False,
    }
    base = {"kind": kind, "arguments": [], "commit": "a" * 40, "dirty": False, "date": "2026-12-01T10:15:00+00:00"}
    return base | {"seconds": 81.4, "machine": machine, "figures": figures} | meta


# ------------------------------------------------------------------ writing


def test_given_a_run_when_published_then_the_latest_and_its_history_hold_commit_date_and_machine(repo, tmp_path):
    # Given a store in a checkout, and a command that started at a known load
    store = ResultStore(tmp_path / "results", Git(repo))
    start = Start(datetime(2026, 12, 1, 10, 0, tzinfo=UTC), (1.5, 1.0, 0.5))

    # When a run publishes its figures (a NaN among them, which JSON has not)
    path = store.publish("demo", {"sent": 10, "ratio": float("nan")}, arguments=["--seed", "7"], start=start)

    # Then the latest of the kind holds them, with the commit, the date, the machine and the arguments
    written = json.loads(path.read_text())
    assert path == tmp_path / "results" / "demo.json" and store.latest("demo") == written
    assert written["figures"] == {"sent": 10, "ratio": None}
    assert written["commit"] == git(repo, "rev-parse", "HEAD") and written["dirty"] is False
    assert datetime.fromisoformat(written["date"]) > start.at and written["seconds"] > 0
    assert written["arguments"] == ["--seed", "7"]
    machine = written["machine"]
    assert machine["cores"] >= 1 and machine["load_average_start"] == [1.5, 1.0, 0.5]
    assert len(machine["load_average_end"]) == 3 and machine["python"].startswith("CPython 3.")
    # And the history keeps the same run under its time
    (kept,) = (tmp_path / "results" / "history" / "demo").glob("*.json")
    assert json.loads(kept.read_text()) == written


def test_given_uncommitted_code_when_published_then_the_commit_is_marked_dirty_but_not_for_docs(repo, tmp_path):
    store = ResultStore(tmp_path / "results", Git(repo))
    (repo / "docs").mkdir()
    (repo / "docs" / "page.md").write_text("a page\n")
    (repo / "notes.md").write_text("notes\n")
    assert json.loads(store.publish("demo", {}).read_text())["dirty"] is False

    (repo / "code.py").write_text("x = 2\n")
    assert json.loads(store.publish("demo", {}).read_text())["dirty"] is True


def test_given_a_kind_that_is_not_a_word_when_published_then_it_is_refused(tmp_path):
    with pytest.raises(ValueError, match="a kind is a word"):
        ResultStore(tmp_path).publish("../escape", {})


def test_given_no_result_of_a_kind_when_read_then_there_is_none(tmp_path):
    assert ResultStore(tmp_path).latest("bench") is None


# ------------------------------------------------------------------ older than the code


def test_given_a_measured_commit_when_only_docs_change_then_the_result_is_current_and_code_makes_it_older(repo):
    checkout = Git(repo)
    measured = checkout.commit().id

    commit_file(repo, "docs/results/demo.json", "{}\n")
    commit_file(repo, "README.md", "# read me\n")
    commit_file(repo, "capacity/results/capacity.json", "{}\n")  # the capacity model's output, not code
    assert checkout.freshness(measured, dirty=False).current

    commit_file(repo, "code.py", "x = 3\n")
    commit_file(repo, "tests/test_x.py", "y = 1\n")
    older = checkout.freshness(measured, dirty=False)
    assert older.changes == 2 and not older.current
    assert older.sentence() == "**Older than the code**: 2 later commits have changed the code since"


def test_given_a_commit_not_in_the_history_when_judged_then_it_is_said_older_or_from_another_branch(repo):
    stranger = Git(repo).freshness("0" * 40, dirty=False)
    assert stranger.changes is None and "not in this checkout's history" in stranger.sentence()
    assert Git(repo).freshness("unknown", dirty=False).changes is None


def test_given_a_result_on_uncommitted_code_when_judged_then_it_is_not_current(repo):
    dirty = Git(repo).freshness(Git(repo).commit().id, dirty=True)
    assert not dirty.current and "uncommitted changes" in dirty.sentence()


# ------------------------------------------------------------------ the page


def test_given_no_result_of_a_kind_when_rendered_then_the_page_says_not_run_yet_and_what_it_needs():
    page = render({}, CURRENT)
    for kind in kinds.KINDS:
        assert f"## `{kind.command}`\n\nNot run yet: run `{kind.command}`" in page
    assert "run `make send` (it needs the stack of `make up`), then `make results`" in page
    assert "docs/results/<kind>.json" in page and "older than the code" in page  # the header says what is committed


def test_given_a_result_when_rendered_then_its_commit_date_and_machine_are_shown():
    page = render({"soak": result("soak", {"totals": {"histories": 50}, "failed_runs": 0})}, CURRENT)
    assert (
        "## `make soak`\n\nMeasured on commit `aaaaaaaaaaaa`, 2026-12-01 10:15 UTC, in 81 s. The code has not" in page
    )
    assert (
        "Machine: 2 cores (Test CPU), 7.8 GiB, load average 1.5 at the start and 3.25 at the end (1 min); "
        "CPython 3.13.0; Linux-x86_64." in page
    )


def test_given_a_result_of_an_older_commit_when_rendered_then_it_is_marked_older_than_the_code():
    older = FixedGit(Freshness(3, dirty=False))
    page = render({"soak": result("soak", {"totals": {"histories": 50}}, dirty=True)}, older)
    assert "## `make soak`: older than the code\n\nMeasured on commit `aaaaaaaaaaaa-dirty`" in page
    assert "**Older than the code**: 3 later commits have changed the code since." in page


def test_given_an_imported_result_without_a_machine_when_rendered_then_it_says_so():
    page = render({"bench": result("bench", {"rows": []}, machine=None, note="Imported.")}, CURRENT)
    assert "Imported.\nMachine: not recorded." in page


def test_given_earlier_figures_when_rendered_then_they_follow_under_their_own_heading():
    assert "## Earlier figures, recorded by hand\n\nby hand" in render({}, CURRENT, "by hand\n")


# ------------------------------------------------------------------ each kind


PIPELINE_REPORT = {
    "naive": False,
    "sent": 10_000,
    "delivered": 12_000,
    "outcomes": {"accepted": 7_529, "duplicate": 233, "stale": 2_238, "poison": 3},
    "accepted": 7_529,
    "exhausted": 0,
    "aggregate_exhausted": 0,
    "retried_batches": 40,
    "throttled_calls": 0,
    "throttling_bursts": 0,
    "unaccounted": 0,
    "state_exact": True,
    "aggregates_exact": True,
    "stale_items": 0,
    "aggregate_differences": {},
    "message_count": "7529",
    "partials": {
        "written": 900,
        "applied": 900,
        "skipped": 12,
        "applied_twice": 0,
        "left": 0,
        "reduce_transactions": 9,
    },
    "elapsed_seconds": 72.31,
}


def test_given_a_demo_when_rendered_then_its_decisions_verdict_time_and_options_are_read():
    options = {"messages": 10_000, "crash_rate": 0.05, "shards": None}  # None: the template's value
    lines = "\n".join(kinds.pipeline_lines({"options": options, "report": PIPELINE_REPORT}))
    assert (
        "EXACT: 10,000 records sent; accepted 7,529, duplicate 233, stale 2,238, poison 3; 0 unaccounted; 72.3 s."
        in lines
    )
    assert "| partials written / applied / skipped | 900 / 900 / 12 |" in lines
    assert "Options: messages 10,000, crash-rate 0.05." in lines


def test_given_a_pipeline_that_was_not_exact_when_rendered_then_it_says_so():
    report = PIPELINE_REPORT | {"aggregates_exact": False, "aggregate_differences": {"PV": ["1", "2"]}}
    lines = kinds.pipeline_lines({"options": {}, "report": report})
    assert lines[0].startswith("**NOT EXACT**: 10,000 records sent")
    assert "| aggregates that differ from the sum of what was sent | 1 |" in lines


def test_given_a_bench_when_rendered_then_each_figure_shows_its_target_and_whether_it_is_met():
    row = {"group": "cost", "what": "calls / message", "figure": 0.7716, "unit": "", "target": "<= 1", "met": True}
    missed = row | {"what": "a | b", "figure": None, "met": False, "note": "x"}
    lines = kinds.bench_lines({"seconds": 118, "rows": [row, missed]})
    assert lines[0] == "2 figures in 118 s: 1 targets met, 1 not."
    assert "| cost | calls / message | 0.772 | <= 1 | yes |  |" in lines
    assert "| cost | a \\| b | n/a | <= 1 | **no** | x |" in lines


def test_given_a_soak_that_found_a_violation_when_rendered_then_the_page_says_so():
    lines = kinds.soak_lines(
        {"totals": {"histories": 1_004, "records": 8_082}, "failed_runs": 1, "histories_asked": 1000}
    )
    assert (
        lines[0]
        == "1,004 histories (SOAK_HISTORIES=1000, and the examples every run checks), **VIOLATED** in 1 run(s)."
    )
    assert "| records sent | 8,082 |" in lines


def test_given_workshop_rounds_when_rendered_then_each_round_shows_its_score_and_times():
    rounds = [
        {"round": 1, "lab": 1, "score": 100, "puts_s": 9.1, "exact_after_last_put_s": 30.0, "max_abs_difference": 0.0},
        {"round": 2, "lab": 2, "score": 0, "puts_s": 12.4, "exact_after_last_put_s": None, "max_abs_difference": None},
    ]
    lines = kinds.rounds_lines({"rounds": rounds, "SCORE": 400})
    assert lines[0] == "1 of 2 rounds scored 100; SCORE 400."
    assert "| 1 | 1 | 100 | 9.1 | 30 | 0 |" in lines and "| 2 | 2 | 0 | 12.4 | n/a | n/a |" in lines


SEND = {
    "workshop": True,
    "seed": 7,
    "messages": 11_250,
    "trades": 8_750,
    "put_calls": 250,
    "sent_seconds": 11.2,
    "exact": True,
    "seconds_to_exact": 59.3,
    "seconds_after_last_put": 48.1,
    "messages_per_second": 189.7,
    "latency": {"p50_s": 29.5, "p99_s": 58.7, "max_s": 59.0, "records": 11_250, "batches": 40},
    "cpu_ms_per_message": {"ministack": 1.42, "state": 1.1, "aggregate": 0.12},
    "cpu_seconds": 30.1,
    "cores_busy": 1.2,
    "bare_loop": {"calls": 500, "calls_per_second": 300.0, "client_ms": 1.08, "ministack_ms": 0.82},
}


def test_given_a_send_when_rendered_then_drain_rate_latency_and_cpu_per_message_are_read():
    lines = kinds.send_lines(SEND)
    assert lines[0] == "the workshop's lab-2 burst: exact, 190 messages a second end to end."
    assert "| latency p50 / p99 / max | 29.5 s / 58.7 s / 59.0 s |" in lines
    assert "| CPU per message: MiniStack / state / aggregate | 1.42 ms / 1.10 ms / 0.12 ms |" in lines
    assert kinds.send_lines(SEND | {"exact": False, "workshop": False})[0] == (
        "250 PutRecords calls: **NOT exact** after 59 s."
    )


def test_given_a_capacity_run_when_rendered_then_its_last_line_leads_its_own_report():
    # Given the model's payload as make capacity publishes it: its summary line and its rendered report
    figures = {"summary": "capacity: sustains 1 msg/s", "report": "#### The deployment\n\n| a |\n|---|", "default": []}

    # When rendered
    lines = kinds.capacity_lines(figures)

    # Then the last line comes first, then the report line by line
    assert lines == ["`capacity: sustains 1 msg/s`", "", "#### The deployment", "", "| a |", "|---|"]
    # and a shape it does not know is shown figure by figure, not refused
    assert "| meta / date | today |" in kinds.capacity_lines({"meta": {"date": "today"}, "default": []})


def test_given_figures_of_a_new_kind_when_rendered_then_every_figure_is_a_row():
    assert kinds.figure_lines({"redriven": 12, "queue": {"left": 0}, "ids": [1, 2]}) == [
        "| Figure | Value |",
        "|---|---|",
        "| redriven | 12 |",
        "| queue / left | 0 |",
    ]


# ------------------------------------------------------------------ what is committed


def test_given_the_committed_results_when_rendered_then_each_is_a_known_kind_and_reads():
    # Given every result committed under docs/results/ (what a clean clone renders)
    published = sorted(PUBLISHED.glob("*.json"))

    # Then each is of a kind the page knows, and renders with its command and commit
    results = {path.stem: json.loads(path.read_text()) for path in published}
    assert set(results) <= set(KINDS)
    page = render(results, CURRENT)
    for name, found in results.items():
        assert found["kind"] == name
        assert f"## `{KINDS[name].command}`\n\nMeasured on commit `{found['commit'][:12]}" in page
