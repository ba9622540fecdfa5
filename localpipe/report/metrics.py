"""Read the functions' metrics back from their log output, as CloudWatch does.

Powertools Metrics writes each invocation's metrics as one line of CloudWatch Embedded Metric Format (EMF): a
JSON object whose ``_aws.CloudWatchMetrics`` lists the metric names, and whose top-level keys hold the values
(a list when a metric was added more than once). Any other line (a log line, a report) is not a metric.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any


def emf_totals(lines: Iterable[str]) -> dict[str, float]:
    """The sum of every metric over every EMF line, by ``service:metric`` (``state:records_accepted``)."""
    totals: Counter[str] = Counter()
    for blob in filter(None, map(_emf, lines)):
        service = str(blob.get("service", ""))
        for name in _metric_names(blob):
            value = blob.get(name, 0)
            totals[f"{service}:{name}"] += sum(value) if isinstance(value, list) else value
    return {name: float(total) for name, total in totals.items()}


def _emf(line: str) -> dict[str, Any] | None:
    """The line's EMF object, or None when the line is not one."""
    try:
        blob = json.loads(line)
    except ValueError:
        return None
    return blob if isinstance(blob, dict) and "_aws" in blob else None


def _metric_names(blob: dict[str, Any]) -> list[str]:
    directives = blob["_aws"].get("CloudWatchMetrics", [])
    return [metric["Name"] for directive in directives for metric in directive.get("Metrics", [])]
