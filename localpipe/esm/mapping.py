"""A faithful local model of Lambda's stream event source mappings (Kinesis and DynamoDB streams).

What it reproduces, per mapping:

* records of a shard are delivered in order, in batches of at most ``BatchSize``;
* ``ParallelizationFactor`` splits a shard into lanes by partition key (order kept per key), whose
  batches are interleaved;
* a batch is checkpointed only when the function succeeds; a function error retries the batch from its
  checkpoint, split in two first when ``BisectBatchOnFunctionError`` is on (a split batch keeps the
  attempt count of its parent: a conservative reading of the documentation);
* with ``ReportBatchItemFailures``, a response's ``batchItemFailures`` moves the checkpoint to the lowest
  failed sequence number: the records before it are done, everything from it on is delivered again (with
  bisect on, the batch is split at that record and only its remaining records are retried, before any half of
  an earlier split). Every delivery starts at its lane's checkpoint (tests/property/test_esm_model.py).
  An empty or unknown ``itemIdentifier`` fails the whole batch, as in Lambda;
* after ``MaximumRetryAttempts`` retries, or for records older than ``MaximumRecordAgeInSeconds``, the
  batch's metadata (shard, sequence range, size, never the payload) goes to the on-failure destination
  and the shard moves on;
* ``FilterCriteria``: records matching no filter are dropped (and checkpointed) before any invocation.

Fault injection on the delivery side adds what the platform does on bad days: a batch delivered again after
success (lost checkpoint), and a second consumer on the same shard. The mapping asks its ``faults.DeliveryFaults``
for them and draws no fault numbers itself. The streams are read by ``streams.py``, filters applied by
``filters.py``, and given-up batches described to the on-failure destination by ``destinations.py``.

The interleaving of lanes and mappings is chosen by a seeded random generator, so a run is reproducible.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from localpipe.esm.destinations import DestinationSink, failure_message
from localpipe.esm.filters import filterable, matches_filter
from localpipe.esm.streams import SourceRecord, StreamReader
from localpipe.faults.plan import DeliveryFaults
from localpipe.stack.template import EventSource

Invoker = Callable[[dict], Any]


@dataclass
class Batch:
    records: list[SourceRecord]
    attempts: int = 0


@dataclass
class Lane:
    shard_id: str
    index: int
    records: deque[SourceRecord] = field(default_factory=deque)
    plan: deque[Batch] = field(default_factory=deque)  # explicit batches: retries and bisected halves
    carried_attempts: int = 0  # attempts carried to the batch that starts at a partially failed record

    def has_work(self) -> bool:
        return bool(self.records)


@dataclass
class MappingStats:
    invocations: int = 0
    records_delivered: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    bisections: int = 0
    filtered_out: int = 0
    lost_checkpoints: int = 0
    overlap_invocations: int = 0
    batches_to_destination: int = 0
    records_to_destination: set[str] = field(default_factory=set)
    committed: set[str] = field(default_factory=set)


class EventSourceMapping:
    def __init__(
        self,
        config: EventSource,
        reader: StreamReader,
        invoke: Invoker,
        *,
        destination: DestinationSink | None,
        source_arn: str,
        rng: random.Random,
        faults: DeliveryFaults | None = None,
        overlap_invoke: Invoker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.stats = MappingStats()
        self._reader = reader
        self._invoke = invoke
        self._overlap_invoke = overlap_invoke or invoke
        self._destination = destination
        self._source_arn = source_arn
        self._rng = rng
        self._faults = faults or DeliveryFaults(rng)
        self._clock = clock
        self._lanes: dict[tuple[str, int], Lane] = {}
        self._patterns = [json.loads(p) for p in config.filter_patterns]

    # ---------------------------------------------------------------- reading

    def poll(self) -> int:
        """Take the stream's new records into their lanes; return how many arrived."""
        new = self._reader.poll()
        for record in new:
            if self._patterns and not any(matches_filter(p, filterable(record.lambda_record)) for p in self._patterns):
                self.stats.filtered_out += 1
                self.stats.committed.add(record.record_id)
                continue
            lane_index = _lane_of(record.partition_key, self.config.parallelization_factor)
            key = (record.shard_id, lane_index)
            self._lanes.setdefault(key, Lane(record.shard_id, lane_index)).records.append(record)
        return len(new)

    def has_work(self) -> bool:
        return any(lane.has_work() for lane in self._lanes.values())

    def pending(self) -> int:
        return sum(len(lane.records) for lane in self._lanes.values())

    # ---------------------------------------------------------------- one batch

    def step(self) -> bool:
        """Deliver one batch from one lane (chosen by the seeded generator). False when idle."""
        busy = [lane for _, lane in sorted(self._lanes.items()) if lane.has_work()]
        if not busy:
            return False
        lane = self._rng.choice(busy)
        batch = (
            lane.plan[0] if lane.plan else Batch(list(lane.records)[: self.config.batch_size], lane.carried_attempts)
        )
        if not lane.plan:
            lane.plan.append(batch)
            lane.carried_attempts = 0
        if self._expire_old_records(lane, batch):
            return True
        self._deliver(lane, batch)
        return True

    def drain(self, max_steps: int = 1_000_000) -> None:
        for _ in range(max_steps):
            self.poll()
            if not self.step():
                return
        raise RuntimeError(f"{self.config.function}: still busy after {max_steps} batches")

    def _expire_old_records(self, lane: Lane, batch: Batch) -> bool:
        max_age = self.config.maximum_record_age
        if max_age < 0:
            return False
        now = self._clock()
        # Records arrive in order, so the expired ones are the batch's leading run.
        count = next((i for i, r in enumerate(batch.records) if now - r.arrival <= max_age), len(batch.records))
        if not count:
            return False
        expired, remaining = batch.records[:count], batch.records[count:]
        self._to_destination(lane, expired, "RecordAgeExceeded", batch.attempts)
        self._commit(lane, expired)
        lane.plan.popleft()
        if remaining:
            lane.plan.appendleft(Batch(remaining, batch.attempts))
        return True

    def _deliver(self, lane: Lane, batch: Batch) -> None:
        event = {"Records": [r.lambda_record for r in batch.records]}
        overlap, overlap_first = self._faults.overlap()
        if overlap_first:
            self._invoke_overlap(event)
        self.stats.invocations += 1
        self.stats.records_delivered += len(batch.records)
        try:
            response = self._invoke(event)
        except Exception:  # noqa: BLE001 - a function error, as Lambda sees it
            self.stats.function_errors += 1
            self._on_function_error(lane, batch)
        else:
            self._on_response(lane, batch, response)
        if overlap:
            self._invoke_overlap(event)

    def _invoke_overlap(self, event: dict) -> None:
        """A second consumer on the same shard (a resharding overlap): its outcome is not ours to act on."""
        self.stats.overlap_invocations += 1
        with contextlib.suppress(Exception):  # the other consumer's failure is its own business
            self._overlap_invoke(event)

    def _on_response(self, lane: Lane, batch: Batch, response: Any) -> None:
        failures = (response or {}).get("batchItemFailures") if self.config.report_batch_item_failures else None
        if not failures:
            self._on_success(lane, batch)
            return
        sequence_numbers = [r.sequence_number for r in batch.records]
        identifiers = [f.get("itemIdentifier") for f in failures]
        if any(not i or i not in sequence_numbers for i in identifiers):
            self.stats.function_errors += 1  # Lambda treats an invalid response as a failure of the batch
            self._on_function_error(lane, batch)
            return
        self.stats.partial_failures += 1
        first_failed = min(sequence_numbers.index(i) for i in identifiers)
        lane.plan.popleft()
        self._commit(lane, batch.records[:first_failed])
        self._retry_from_checkpoint(lane, batch.records[first_failed:], batch.attempts + 1)

    def _on_success(self, lane: Lane, batch: Batch) -> None:
        if self._faults.lost_checkpoint():
            self.stats.lost_checkpoints += 1  # the batch will be delivered again as it is
            return
        lane.plan.popleft()
        self._commit(lane, batch.records)

    def _retry_from_checkpoint(self, lane: Lane, rest: list[SourceRecord], attempts: int) -> None:
        """After a partial failure, the checkpoint is the lowest failed record: retry from it, or give up."""
        if self._exhausted(attempts):
            self._to_destination(lane, rest, "RetryAttemptsExhausted", attempts)
            self._commit(lane, rest)
        elif self.config.bisect or lane.plan:
            # With bisect on, Lambda splits the batch at the returned sequence number and retries only the
            # remaining records; a half of an earlier split still waiting comes after them. Either way the next
            # delivery starts at the new checkpoint, never past it.
            lane.plan.appendleft(Batch(rest, attempts))
        else:
            # The next batch starts at the lowest failed record and may take more records after it.
            lane.carried_attempts = attempts

    def _on_function_error(self, lane: Lane, batch: Batch) -> None:
        lane.plan.popleft()
        attempts = batch.attempts + 1
        if self._exhausted(attempts):
            self._to_destination(lane, batch.records, "RetryAttemptsExhausted", attempts)
            self._commit(lane, batch.records)
        elif self.config.bisect and len(batch.records) > 1:
            self.stats.bisections += 1
            half = len(batch.records) // 2
            lane.plan.appendleft(Batch(batch.records[half:], attempts))
            lane.plan.appendleft(Batch(batch.records[:half], attempts))
        else:
            lane.plan.appendleft(Batch(batch.records, attempts))

    def _exhausted(self, attempts: int) -> bool:
        limit = self.config.maximum_retry_attempts
        return limit >= 0 and attempts > limit

    def _commit(self, lane: Lane, records: Sequence[SourceRecord]) -> None:
        for record in records:
            head = lane.records.popleft()
            if head is not record:
                raise AssertionError("checkpoints must move forward in order")
            self.stats.committed.add(record.record_id)

    def _to_destination(self, lane: Lane, records: Sequence[SourceRecord], condition: str, attempts: int) -> None:
        self.stats.batches_to_destination += 1
        self.stats.records_to_destination.update(r.record_id for r in records)
        if self._destination is not None:
            message = failure_message(
                self.config, lane.shard_id, records, condition, attempts, self._source_arn, self._clock()
            )
            self._destination.send(message, [r.record_id for r in records])


def _lane_of(partition_key: str, factor: int) -> int:
    if factor <= 1:
        return 0
    return int.from_bytes(hashlib.md5(partition_key.encode(), usedforsecurity=False).digest()[:4], "big") % factor
