"""The aggregate stage's end-to-end latency metric: published per batch as EMF (max and mean, from each applied
message's Timestamp), read back from the log lines, and the records' p50 / p99 from the batches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.aggregate import app as aggregate_app
from localpipe.latency import BatchLatency, latency_since, parse_emf, percentiles
from localpipe.pipeline import LocalContext
from riskpipe.aggregate_service import AggregateOutcome
from riskpipe.aggregation import TradeChange

EVENT = Path(__file__).resolve().parents[2] / "events" / "aggregate" / "dynamodb-insert.json"


class AppliesAll:
    """A domain that applies every change it is given (the store is not what these tests are about)."""

    def apply(self, changes: list[TradeChange]) -> AggregateOutcome:
        return AggregateOutcome(applied={c.sequence_number for c in changes if c.applies})


def emf_lines(output: str) -> list[BatchLatency]:
    return [b for line in output.splitlines() if (b := parse_emf(line)) is not None]


def test_given_a_batch_applied_when_handled_then_max_and_mean_latency_from_the_timestamps_are_published(
    capsys, monkeypatch
):
    event = json.loads(EVENT.read_text())
    stamps = [float(r["dynamodb"]["NewImage"]["Timestamp"]["N"]) for r in event["Records"]]
    now = max(stamps) + 2.5
    monkeypatch.setattr(aggregate_app.time, "time", lambda: now)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the tests turn metrics off (conftest.py)

    aggregate_app.build_handler(AppliesAll())(event, LocalContext("aggregate"))

    (batch,) = emf_lines(capsys.readouterr().out)
    latencies = [(now - s) * 1000 for s in stamps]
    assert batch.records == len(stamps)
    assert batch.max_ms == pytest.approx(max(latencies))
    assert batch.mean_ms == pytest.approx(sum(latencies) / len(latencies))


def test_given_nothing_applied_when_handled_then_no_latency_is_published(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    class AppliesNothing:
        def apply(self, changes: list[TradeChange]) -> AggregateOutcome:
            return AggregateOutcome(duplicates={c.sequence_number for c in changes})

    aggregate_app.build_handler(AppliesNothing())(json.loads(EVENT.read_text()), LocalContext("aggregate"))

    assert emf_lines(capsys.readouterr().out) == []


def test_given_batches_of_different_sizes_when_summarised_then_quantiles_weigh_each_record_once():
    batches = [BatchLatency(1, 98, 1_500.0, 1_000.0), BatchLatency(2, 2, 9_000.0, 8_000.0)]

    p50, p99, worst = percentiles(batches)

    assert (p50, p99, worst) == (1_000.0, 8_000.0, 9_000.0)


def test_given_lines_that_are_not_latency_records_when_parsed_then_they_are_skipped():
    assert parse_emf("START RequestId: 1 Version: $LATEST") is None
    assert parse_emf('{"end_to_end_latency_max": "broken"}') is None


class FakeLogs:
    """CloudWatch Logs' filter_log_events, two pages."""

    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, pages: list[list[str]]) -> None:
        self.pages = pages
        self.calls: list[dict] = []

    def filter_log_events(self, **kwargs: object) -> dict:
        self.calls.append(kwargs)
        index = len(self.calls) - 1
        token = {"nextToken": str(index + 1)} if index + 1 < len(self.pages) else {}
        return {"events": [{"message": m} for m in self.pages[index]], **token}


def record(timestamp: int, applied: int, worst: float, mean: float) -> str:
    return json.dumps(
        {
            "_aws": {"Timestamp": timestamp, "CloudWatchMetrics": []},
            "records_applied": [float(applied)],
            "end_to_end_latency_max": [worst],
            "end_to_end_latency_mean": [mean],
        }
    )


def test_given_a_function_log_in_pages_when_read_then_every_batch_is_found_in_time_order():
    logs = FakeLogs([[record(2000, 5, 3.0, 2.0), "END RequestId: 1"], [record(1000, 1, 1.0, 1.0)]])

    batches = latency_since(logs, "stack-aggregate", 0.5)

    assert [b.timestamp_ms for b in batches] == [1000, 2000]
    assert logs.calls[0] == {"logGroupName": "/aws/lambda/stack-aggregate", "startTime": 500}
    assert logs.calls[1]["nextToken"] == "1"
