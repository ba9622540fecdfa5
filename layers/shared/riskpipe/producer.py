"""The producer's domain: which risk messages to send, and sending them without losing one.

Two generators, both deterministic for a seed:

* ``generate_messages``: N messages over K trades, each trade's versions increasing, with exact
  re-sends (duplicates) at a given rate;
* ``workshop_calls``: what the DynamoDB workshop's generator sends in its second lab: 250 PutRecords
  calls of 40 records, about 3% of them revisions of earlier trades (a trade's first revision moves it
  to Version 1, later ones re-send an older version, out of order), plus 5 exact copies per call.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from riskpipe.models import Hierarchy, RiskMessage

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kinesis.type_defs import PutRecordsRequestEntryTypeDef

RISK_TYPES = ("PV", "Delta")
REGIONS = ("EMEA", "APAC", "AMER")
TRADE_DESKS = ("FXSpot", "FXOptions")
PUT_RECORDS_LIMIT = 500


def _random_hierarchy(rng: random.Random) -> Hierarchy:
    return Hierarchy(RiskType=rng.choice(RISK_TYPES), Region=rng.choice(REGIONS), TradeDesk=rng.choice(TRADE_DESKS))


def _random_value(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(0, 10_000_000)) / 100  # 0 to 100,000 with two decimals


def _message(trade_id: str, version: int, rng: random.Random, now: float, hierarchy: Hierarchy) -> RiskMessage:
    return RiskMessage(
        TradeID=trade_id,
        Value=_random_value(rng),
        Version=version,
        Timestamp=Decimal(str(round(now, 6))),
        Hierarchy=hierarchy,
    )


def generate_messages(
    count: int, trades: int, *, seed: int, duplicates: float = 0.0, now: float | None = None
) -> list[RiskMessage]:
    """``count`` messages over ``trades`` trades; a message is an exact re-send with probability ``duplicates``."""
    if trades < 1 or count < 0 or not 0.0 <= duplicates < 1.0:
        raise ValueError("need trades >= 1, count >= 0 and 0 <= duplicates < 1")
    rng = random.Random(seed)
    clock = time.time() if now is None else now
    next_version: dict[str, int] = {}
    hierarchies: dict[str, Hierarchy] = {}
    sent: list[RiskMessage] = []
    while len(sent) < count:
        if sent and rng.random() < duplicates:
            sent.append(rng.choice(sent))
            continue
        trade_id = f"T{rng.randrange(trades):06d}" if len(next_version) >= trades else f"T{len(next_version):06d}"
        version = next_version.get(trade_id, 0)
        next_version[trade_id] = version + 1
        # A revision may move a trade to another desk, as real books do.
        if trade_id not in hierarchies or rng.random() < 0.1:
            hierarchies[trade_id] = _random_hierarchy(rng)
        sent.append(_message(trade_id, version, rng, clock + len(sent) * 1e-3, hierarchies[trade_id]))
    return sent


def workshop_calls(
    *,
    seed: int,
    calls: int = 250,
    per_call: int = 40,
    revision_rate: float = 0.03,
    copies_per_call: int = 5,
    now: float | None = None,
    trade_prefix: str = "W",
) -> list[list[RiskMessage]]:
    """The workshop's lab-2 burst, one list per PutRecords call. New trades are named ``<trade_prefix><serial>``:
    give each burst its own prefix when bursts must not revise each other's trades."""
    rng = random.Random(seed)
    clock = time.time() if now is None else now
    history: dict[str, list[RiskMessage]] = {}
    result: list[list[RiskMessage]] = []
    serial = 0
    for _ in range(calls):
        call: list[RiskMessage] = []
        for _ in range(per_call):
            stamp = clock + serial * 1e-4
            serial += 1
            if history and rng.random() < revision_rate:
                trade_id = rng.choice(sorted(history))
                versions = history[trade_id]
                if len(versions) == 1:  # first revision: Version 1, a new value
                    revised = _message(trade_id, 1, rng, stamp, versions[0].Hierarchy)
                    versions.append(revised)
                    call.append(revised)
                else:  # later revisions re-send an older version: out of order, must be ignored
                    call.append(versions[0])
                continue
            trade_id = f"{trade_prefix}{serial:07d}"
            message = _message(trade_id, 0, rng, stamp, _random_hierarchy(rng))
            history[trade_id] = [message]
            call.append(message)
        call.extend(rng.sample(call, min(copies_per_call, len(call))))
        result.append(call)
    return result


@dataclass
class PublishReport:
    sent: int = 0
    calls: int = 0
    resent_entries: int = 0


class PublishError(RuntimeError):
    pass


class KinesisPublisher:
    """PutRecords in chunks of at most 500, re-sending the entries that come back failed."""

    def __init__(
        self,
        stream_name: str,
        client: KinesisClient,
        *,
        max_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        partition_key: Callable[[RiskMessage], str] = lambda message: message.TradeID,
    ) -> None:
        self._partition_key = partition_key
        self._stream_name = stream_name
        self._client = client
        self._max_attempts = max_attempts
        self._sleep = sleep

    def publish(self, messages: Sequence[RiskMessage], report: PublishReport | None = None) -> PublishReport:
        report = report or PublishReport()
        for start in range(0, len(messages), PUT_RECORDS_LIMIT):
            chunk = messages[start : start + PUT_RECORDS_LIMIT]
            self._put_chunk([{"Data": m.to_wire(), "PartitionKey": self._partition_key(m)} for m in chunk], report)
            report.sent += len(chunk)
        return report

    def _put_chunk(self, entries: list[PutRecordsRequestEntryTypeDef], report: PublishReport) -> None:
        pending = entries
        for attempt in range(self._max_attempts):
            response = self._client.put_records(StreamName=self._stream_name, Records=pending)
            report.calls += 1
            if not response.get("FailedRecordCount"):
                return
            # Results come back in request order; an entry with an ErrorCode was not written.
            pending = [e for e, r in zip(pending, response["Records"], strict=True) if "ErrorCode" in r]
            report.resent_entries += len(pending)
            self._sleep(min(2.0, 0.05 * 2**attempt))
        raise PublishError(f"{len(pending)} records still failed after {self._max_attempts} PutRecords attempts")
