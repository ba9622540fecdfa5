"""Lab 4: a poison record and partial batch failures.

Decide whether a Kinesis record can be processed at all. This starts by decoding and letting a malformed
record raise: the whole batch fails, Lambda retries it, and one bad record blocks its shard until the
retries run out. Return the message; or, for a record that can never succeed, hand it to ``quarantine``
(it goes to the poison-record queue with its reason) and return what it returns.
"""

from __future__ import annotations

from collections.abc import Callable

from riskpipe.models import PoisonRecordError, RiskMessage, decode_risk_message  # noqa: F401
from riskpipe.state_service import Decision, StreamRecord


def admit(record: StreamRecord, quarantine: Callable[[StreamRecord, str], Decision]) -> RiskMessage | Decision:
    # --- LAB 4: your change starts here -------------------------------------------------------------
    return decode_risk_message(record.data)
    # --- LAB 4: your change ends here ---------------------------------------------------------------
