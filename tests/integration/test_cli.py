"""The commands users run: ``python -m localpipe pipeline`` reports an exact run and ``watch`` draws the tree."""

import json
import threading

import pytest

from localpipe.commands.cli import main
from results.record import ResultStore


@pytest.mark.timeout(120)
def test_given_a_small_faulty_run_when_the_pipeline_command_reports_json_then_it_is_exact_and_published(
    capsys, tmp_path
):
    # Given a store for its result
    store = ResultStore(tmp_path)

    # When the pipeline command runs with --json
    argv = ["pipeline", "--messages", "150", "--trades", "20", "--duplicates", "0.2", "--crash-rate", "0.1", "--json"]
    code = main(argv, results=store)

    # Then it prints an exact report
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["unaccounted"] == 0 and report["state_exact"] and report["aggregates_exact"]
    assert report["sent"] == 150 and report["outcomes"]["duplicate"] > 0
    assert int(report["message_count"]) == report["outcomes"]["accepted"] == report["accepted"]
    # And publishes it as the latest pipeline result, with the options it ran with
    published = store.latest("pipeline")
    assert published is not None and published["figures"]["report"] == report
    options = published["figures"]["options"]
    assert options["messages"] == 150 and options["crash_rate"] == 0.1 and "json" not in options


@pytest.mark.timeout(120)
def test_given_the_local_pipeline_when_watched_then_the_aggregate_tree_and_rate_are_drawn(capsys):
    code = main(["watch", "--local-pipeline", "--seconds", "3", "--messages", "200", "--trades", "20"])
    out = capsys.readouterr().out
    assert code == 0
    assert "message_count" in out and "changes/s" in out
    assert "Delta" in out or "PV" in out


@pytest.mark.timeout(120)
def test_given_a_local_run_longer_than_the_watch_when_the_watch_ends_then_no_thread_of_it_outlives_its_moto_server():
    # Given the threads before, and a run far longer than the watch (3,000 messages watched for 1 second)
    before = set(threading.enumerate())

    # When the watch ends
    code = main(["watch", "--local-pipeline", "--seconds", "1", "--messages", "3000", "--trades", "100"])

    # Then its run stopped with it: no thread of it is left to talk to the stopped moto server
    assert code == 0
    assert set(threading.enumerate()) - before == set()
