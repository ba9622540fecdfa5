"""The StateLambda's domain logic: decide every record of a Kinesis batch.

A batch is decided in three steps:

1. each record is decoded; a record that can never succeed goes to the poison-record queue (and is
   not retried) with its reason;
2. the valid records of one trade coalesce to their highest version: a trade costs ONE conditional
   write per batch however many of its records the batch holds, and since a trade never has two
   writes in flight its versions cannot overtake each other;
3. the trades' writes run concurrently (bounded), and each record gets its outcome: the winner the
   table's verdict (accepted / duplicate / stale), the others duplicate (same version) or stale.

A write that DynamoDB throttles beyond the SDK's own attempts is tried again, with jittered backoff, for as
long as the invocation has time left (``riskpipe.throttling``): a throttling burst slows the batch down
instead of spending the retry budget of the records behind it. A write that still fails (the time is up, a
network error) fails every record of that trade, so the handler reports them in ``batchItemFailures`` and
Lambda delivers them again.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from riskpipe.models import (
    PoisonRecord,
    PoisonRecordError,
    RiskMessage,
    StoredVersion,
    WriteOutcome,
    decode_risk_message,
)
from riskpipe.throttling import Backoff, Deadline, Pacing, ThrottledError
from riskpipe.versions import newest_per_trade


class StateStore(Protocol):
    def put_if_newer(self, message: RiskMessage) -> StoredVersion: ...


class PoisonSink(Protocol):
    def send(self, record: PoisonRecord) -> None: ...


class BatchDecider(Protocol):
    """What a handler needs of the domain: decide a batch (the real service, the naive one, a recorder)."""

    def decide(self, records: Sequence[StreamRecord], time_left: float | None = None) -> BatchDecisions:
        """``time_left``: seconds the invocation has left (Lambda's remaining time); None: no time to wait."""
        ...


@dataclass(frozen=True)
class StreamRecord:
    """The parts of a Kinesis stream record the StateLambda needs."""

    sequence_number: str
    shard_id: str
    partition_key: str
    data: bytes
    event_source_arn: str = ""
    approximate_arrival_timestamp: float | None = None

    @classmethod
    def from_lambda_record(cls, record: dict) -> StreamRecord:
        kinesis = record["kinesis"]
        return cls(
            sequence_number=kinesis["sequenceNumber"],
            # eventID is "<shard id>:<sequence number>"
            shard_id=str(record.get("eventID", "")).split(":", 1)[0],
            partition_key=kinesis.get("partitionKey", ""),
            data=base64.b64decode(kinesis["data"]),
            event_source_arn=record.get("eventSourceARN", ""),
            approximate_arrival_timestamp=kinesis.get("approximateArrivalTimestamp"),
        )


@dataclass(frozen=True)
class Decision:
    """What happened to one record: an outcome, or the error that makes it a batch item failure."""

    outcome: WriteOutcome | None = None
    error: BaseException | None = None
    trade_id: str | None = None
    version: int | None = None
    reason: str | None = None

    def result(self) -> WriteOutcome:
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


@dataclass
class BatchDecisions:
    by_sequence: dict[str, Decision] = field(default_factory=dict)
    throttled_retries: int = 0  # writes tried again within the invocation after DynamoDB throttled them

    def result_for(self, sequence_number: str) -> WriteOutcome:
        return self.by_sequence[sequence_number].result()

    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for decision in self.by_sequence.values():
            counts[decision.outcome.value if decision.outcome else "failed"] += 1
        return counts

    def failed(self) -> list[str]:
        return [seq for seq, d in self.by_sequence.items() if d.error is not None]


Admitted = tuple[StreamRecord, RiskMessage]


class StateService:
    def __init__(
        self,
        store: StateStore,
        poison: PoisonSink,
        *,
        write_concurrency: int = 16,
        backoff: Backoff | None = None,
        pacing: Pacing | None = None,
    ) -> None:
        self._store = store
        self._poison = poison
        self._write_concurrency = write_concurrency
        self._backoff = backoff or Backoff()
        self._pacing = pacing or Pacing()
        # Made on first use and kept: a warm Lambda instance reuses its threads from one batch to the next.
        self._pool: ThreadPoolExecutor | None = None

    def decide(self, records: Sequence[StreamRecord], time_left: float | None = None) -> BatchDecisions:
        decisions, valid = self.admit_all(records)
        winners = newest_per_trade(message for _, message in valid)
        deadline = None if time_left is None else Deadline(time_left, self._backoff, self._pacing)
        results, decisions.throttled_retries = self._write_all(list(winners.values()), deadline)
        for record, message in valid:
            decisions.by_sequence[record.sequence_number] = _decide(message, winners[message.TradeID], results)
        return decisions

    def admit_all(self, records: Sequence[StreamRecord]) -> tuple[BatchDecisions, list[Admitted]]:
        """Decode every record: the valid ones with their message, the poison ones already decided."""
        decisions = BatchDecisions()
        valid: list[Admitted] = []
        for record in records:
            admitted = self.admit(record)
            if isinstance(admitted, Decision):
                decisions.by_sequence[record.sequence_number] = admitted
            else:
                valid.append((record, admitted))
        return decisions, valid

    def admit(self, record: StreamRecord) -> RiskMessage | Decision:
        """The record's message; or, for a record that can never be processed, the decision that quarantined it
        (it is not retried: it goes to the poison-record queue with its reason, and its batch goes on)."""
        try:
            return decode_risk_message(record.data)
        except PoisonRecordError as exc:
            return self.quarantine(record, exc.reason)

    def quarantine(self, record: StreamRecord, reason: str) -> Decision:
        poison = PoisonRecord(
            reason=reason,
            data_base64=base64.b64encode(record.data).decode(),
            shard_id=record.shard_id,
            sequence_number=record.sequence_number,
            partition_key=record.partition_key,
            event_source_arn=record.event_source_arn,
            approximate_arrival_timestamp=record.approximate_arrival_timestamp,
        )
        try:
            self._poison.send(poison)
        except Exception as exc:  # noqa: BLE001 - the record must be retried, not lost
            return Decision(error=exc, reason=reason)
        return Decision(outcome=WriteOutcome.POISON, reason=reason)

    def _write_all(
        self, messages: list[RiskMessage], deadline: Deadline | None
    ) -> tuple[dict[str, StoredVersion | BaseException], int]:
        """Every trade's result, and how many throttled writes were tried again."""

        def write(message: RiskMessage) -> tuple[StoredVersion | BaseException, int]:
            retry = 0
            while True:
                try:
                    return self._store.put_if_newer(message), retry
                except ThrottledError as exc:  # nothing written: safe to try again while time remains
                    if deadline is None or not deadline.wait_before_retry(retry):
                        return exc, retry
                    retry += 1
                except Exception as exc:  # noqa: BLE001 - reported per record by the batch processor
                    return exc, retry

        if len(messages) <= 1 or self._write_concurrency == 1:
            written = [write(m) for m in messages]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._write_concurrency, thread_name_prefix="state-write")
            written = list(self._pool.map(write, messages))
        results = {m.TradeID: result for m, (result, _) in zip(messages, written, strict=True)}
        return results, sum(retries for _, retries in written)


def _decide(message: RiskMessage, winner: RiskMessage, results: dict[str, StoredVersion | BaseException]) -> Decision:
    result = results[message.TradeID]
    trade_id, version = message.TradeID, message.Version
    if isinstance(result, BaseException):
        return Decision(error=result, trade_id=trade_id, version=version)
    if message is winner:
        return Decision(outcome=result.outcome, trade_id=trade_id, version=version)
    # Not written: its batch holds a version at least as new. Same version as the stored one: duplicate.
    newest = max(result.stored_version, winner.Version)
    outcome = WriteOutcome.DUPLICATE if message.Version == newest else WriteOutcome.STALE
    return Decision(outcome=outcome, trade_id=trade_id, version=version)
