"""Read the functions' metrics back from their log output, as CloudWatch does.

Powertools Metrics writes each invocation's metrics as one line of CloudWatch Embedded Metric Format (EMF): a
JSON object whose ``_aws.CloudWatchMetrics`` lists the metric names, and whose top-level keys hold the values
(a list when a metric was added more than once). Any other line (a log line, a report) is not a metric.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable


def emf_totals(lines: Iterable[str]) -> dict[str, float]:
    """The sum of every metric over every EMF line, by ``service:metric`` (``state:records_accepted``)."""
    totals: Counter[str] = Counter()
    for line in lines:
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        service = str(blob.get("service", ""))
        for directive in blob["_aws"].get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                name = metric["Name"]
                value = blob.get(name, 0)
                totals[f"{service}:{name}"] += sum(value) if isinstance(value, list) else value
    return {name: float(total) for name, total in totals.items()}
