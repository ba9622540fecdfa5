"""The aggregate stage's end-to-end latency metric: published per batch by the reduce, where aggregates are applied,
as EMF (max and mean, from each applied message's Timestamp, carried by its partial), read back from the log lines,
and the records' p50 / p99 from the batches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from functions.reduce import app as reduce_app
from localpipe.report.latency import BatchLatency, latency_since, parse_emf, percentiles
from localpipe.stack.lambda_context import LocalContext
from riskpipe.partials import Partial
from riskpipe.reduce_service import ReduceOutcome

EVENT = Path(__file__).resolve().parents[2] / "events" / "reduce" / "dynamodb-partials.json"
# Each partial's messages: (earliest, latest, sum, count) of their Timestamps
STAMPS = [(100.0, 104.0, 305.0, 3), (101.0, 101.5, 202.5, 2)]


def stamped_event() -> dict:
    event = json.loads(EVENT.read_text())
    for record, (earliest, latest, total, count) in zip(event["Records"], STAMPS, strict=True):
        image = record["dynamodb"]["NewImage"]
        image["TimestampMin"], image["TimestampMax"] = {"N": str(earliest)}, {"N": str(latest)}
        image["TimestampSum"], image["TimestampCount"] = {"N": str(total)}, {"N": str(count)}
        image["MessageCount"] = {"N": str(count)}
    return event


@pytest.fixture(autouse=True)
def no_metrics_left_over() -> None:
    """The reduce module's metrics start empty: a test run with metrics disabled (conftest.py) leaves what it added
    in the module's metric set, and an EMF line carries every value added since the last flush."""
    reduce_app.metrics.clear_metrics()


class AppliesAll:
    """A domain that applies every partial it is given (the store is not what these tests are about)."""

    def apply(self, partials: Sequence[Partial]) -> ReduceOutcome:
        return ReduceOutcome(applied={p.partial_id for p in partials}, messages=sum(p.message_count for p in partials))


def emf_lines(output: str) -> list[BatchLatency]:
    return [b for line in output.splitlines() if (b := parse_emf(line)) is not None]


def test_given_partials_applied_when_reduced_then_max_and_mean_latency_from_their_timestamps_are_published(
    capsys, monkeypatch
):
    now = 110.0
    monkeypatch.setattr(reduce_app.time, "time", lambda: now)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the tests turn metrics off (conftest.py)

    reduce_app.build_handler(AppliesAll())(stamped_event(), LocalContext("reduce"))

    (batch,) = emf_lines(capsys.readouterr().out)
    assert batch.records == 5  # the messages whose aggregates were applied
    assert batch.max_ms == pytest.approx((now - 100.0) * 1000)  # from the earliest Timestamp
    assert batch.mean_ms == pytest.approx((now - (305.0 + 202.5) / 5) * 1000)


def test_given_nothing_applied_when_reduced_then_no_latency_is_published(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    class SkipsAll:
        def apply(self, partials: Sequence[Partial]) -> ReduceOutcome:
            return ReduceOutcome(skipped={p.partial_id for p in partials})

    reduce_app.build_handler(SkipsAll())(stamped_event(), LocalContext("reduce"))

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
            "messages_applied": [float(applied)],
            "end_to_end_latency_max": [worst],
            "end_to_end_latency_mean": [mean],
        }
    )


def test_given_a_function_log_in_pages_when_read_then_every_batch_is_found_in_time_order():
    logs = FakeLogs([[record(2000, 5, 3.0, 2.0), "END RequestId: 1"], [record(1000, 1, 1.0, 1.0)]])

    batches = latency_since(logs, "stack-reduce", 0.5)

    assert [b.timestamp_ms for b in batches] == [1000, 2000]
    assert logs.calls[0] == {"logGroupName": "/aws/lambda/stack-reduce", "startTime": 500}
    assert logs.calls[1]["nextToken"] == "1"
