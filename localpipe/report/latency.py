"""End-to-end latency as the aggregate stage publishes it: one EMF record per batch in the reduce function's log
(where aggregates are applied), with ``end_to_end_latency_max`` and ``end_to_end_latency_mean`` (milliseconds, from
each message's ``Timestamp`` to its aggregate being applied) beside ``messages_applied``. Read back from CloudWatch
Logs, on AWS or the local AWS.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_METRIC = "end_to_end_latency_max"
MEAN_METRIC = "end_to_end_latency_mean"


@dataclass(frozen=True)
class BatchLatency:
    timestamp_ms: int  # when the batch was logged
    records: int
    max_ms: float
    mean_ms: float


def parse_emf(message: str) -> BatchLatency | None:
    """The latency of one aggregate batch from one log line, or None when the line is not such a record."""
    if MAX_METRIC not in message:
        return None
    try:
        record = json.loads(message)
        return BatchLatency(
            timestamp_ms=int(record["_aws"]["Timestamp"]),
            records=int(_value(record.get("messages_applied", record.get("records_applied", 1)))),
            max_ms=_value(record[MAX_METRIC]),
            mean_ms=_value(record[MEAN_METRIC]),
        )
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def _value(field: Any) -> float:
    """A metric's value: Powertools writes each one as a list of the values added (one here)."""
    return float(field[0] if isinstance(field, list) else field)


def latency_since(logs: Any, function_name: str, since_epoch_seconds: float) -> list[BatchLatency]:
    """Every batch the reduce function logged since then (its log group is ``/aws/lambda/<name>``)."""
    found: list[BatchLatency] = []
    kwargs: dict[str, Any] = {
        "logGroupName": f"/aws/lambda/{function_name}",
        "startTime": int(since_epoch_seconds * 1000),
    }
    try:
        while True:
            page = logs.filter_log_events(**kwargs)
            found.extend(b for e in page.get("events", []) if (b := parse_emf(e.get("message", ""))) is not None)
            if not page.get("nextToken") or not page.get("events"):
                break
            kwargs["nextToken"] = page["nextToken"]
    except logs.exceptions.ResourceNotFoundException:
        return []  # no batch yet: the log group is made by the first one
    return sorted(found, key=lambda b: b.timestamp_ms)


def percentiles(batches: Sequence[BatchLatency], quantiles: Sequence[float] = (0.5, 0.99)) -> list[float]:
    """Quantiles of the records' latency, each record taken at its batch's mean (the metric keeps no more),
    then the largest latency of any record."""
    weighted = sorted((b.mean_ms, b.records) for b in batches if b.records > 0)
    total = sum(records for _, records in weighted)
    if not total:
        return [0.0 for _ in quantiles] + [0.0]
    result = []
    for quantile in quantiles:
        rank, seen = quantile * total, 0
        for value, records in weighted:
            seen += records
            if seen >= rank:
                result.append(value)
                break
    return [*result, max((b.max_ms for b in batches), default=0.0)]
