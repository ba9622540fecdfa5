"""Lab 5: read the metrics. Add up what the functions reported, as a CloudWatch query would.

``lines`` is everything the functions printed: log lines, and one CloudWatch Embedded Metric Format (EMF)
line per invocation, like
    {"_aws": {"CloudWatchMetrics": [{"Namespace": "RiskPipeline", "Metrics": [{"Name": "records_accepted", ...}]}]},
     "service": "state", "records_accepted": [42.0], ...}
Return the total of every metric over every EMF line, keyed ``"<service>:<metric>"``.
"""

from __future__ import annotations

from collections.abc import Iterable


def totals(lines: Iterable[str]) -> dict[str, float]:
    # --- LAB 5: your change starts here -------------------------------------------------------------
    return {}
    # --- LAB 5: your change ends here ---------------------------------------------------------------
