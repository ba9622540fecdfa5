"""Property of the event source mapping model alone (no moto, no handler): whatever the function answers
(success, an error, a partial failure, an invalid item identifier) and whatever the platform does (a lost
checkpoint, a second consumer), every delivery starts at its lane's checkpoint and is a run of consecutive records
from there; and when the mapping is drained every record is checkpointed, each exactly once.

This is the documented behaviour: a partial failure moves the checkpoint to the lowest failed record and Lambda
retries everything from there (with bisect on, the batch is split at the returned sequence number and only the
remaining records are retried); a function error retries the batch from its checkpoint, bisected when asked.
It finds a model that delivers past an uncommitted record in seconds (the soak took hours to find one)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st

from localpipe.esm.mapping import EventSourceMapping, _lane_of
from localpipe.esm.streams import SourceRecord
from localpipe.faults.plan import DeliveryFaults
from localpipe.stack.template import EventSource

ACTIONS = ("ok", "ok", "error", "partial", "partial", "invalid id", "empty id")


@dataclass(frozen=True)
class Shape:
    records: int
    shards: int
    keys: int
    batch_size: int
    factor: int
    retries: int
    bisect: bool
    lost_checkpoint: float
    overlap: float


shapes = st.builds(
    Shape,
    records=st.integers(1, 30),
    shards=st.integers(1, 2),
    keys=st.integers(1, 5),
    batch_size=st.sampled_from([1, 2, 3, 5, 10]),
    factor=st.sampled_from([1, 1, 3]),
    retries=st.sampled_from([0, 1, 3, 10]),
    bisect=st.booleans(),
    lost_checkpoint=st.sampled_from([0.0, 0.0, 0.2]),
    overlap=st.sampled_from([0.0, 0.2]),
)


class ListReader:
    def __init__(self, records: list[SourceRecord]) -> None:
        self.pending = list(records)

    def poll(self) -> list[SourceRecord]:
        taken, self.pending = self.pending, []
        return taken


def source_records(shape: Shape) -> list[SourceRecord]:
    result = []
    for index in range(shape.records):
        shard, key, sequence = f"shard-{index % shape.shards}", f"k{index % shape.keys}", f"{index:04d}"
        result.append(
            SourceRecord(shard, sequence, key, 0.0, {"kinesis": {"sequenceNumber": sequence, "partitionKey": key}})
        )
    return result


def mapping_for(shape: Shape, records: list[SourceRecord], invoke, rng: random.Random) -> EventSourceMapping:
    config = EventSource(
        "F",
        "S",
        "Kinesis",
        "Stream",
        {
            "BatchSize": shape.batch_size,
            "MaximumRetryAttempts": shape.retries,
            "BisectBatchOnFunctionError": shape.bisect,
            "ParallelizationFactor": shape.factor,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    return EventSourceMapping(
        config,
        ListReader(records),
        invoke,
        destination=None,
        source_arn="arn",
        rng=rng,
        faults=DeliveryFaults(rng, lost_checkpoint=shape.lost_checkpoint, overlap=shape.overlap),
        overlap_invoke=lambda event: None,
        clock=lambda: 1.0,
    )


# The soak's history of 2026-12-01 (issue 17) on this model alone: 9 records on one shard, batch size 5, bisect,
# 3 retries. Under these scripted answers the old model delivered a bisected half past the uncommitted records.
SOAK_SHAPE = Shape(9, 1, 1, 5, 1, 3, True, 0.0, 0.0)


@settings(max_examples=1000)
@example(shape=SOAK_SHAPE, script=random.Random(0), platform=random.Random(0))
@given(shape=shapes, script=st.randoms(use_true_random=False), platform=st.randoms(use_true_random=False))
def test_given_any_responses_and_platform_faults_when_drained_then_every_delivery_starts_at_the_checkpoint(
    shape: Shape, script: random.Random, platform: random.Random
) -> None:
    # Given records on shards and lanes, and a function that answers anything
    records = source_records(shape)
    lanes: dict[tuple[str, int], list[SourceRecord]] = {}
    for record in records:
        lanes.setdefault((record.shard_id, _lane_of(record.partition_key, shape.factor)), []).append(record)
    by_sequence = {r.sequence_number: r for r in records}
    checkpointed_at_delivery: list[str] = []

    def invoke(event: dict) -> dict:
        batch = [by_sequence[r["kinesis"]["sequenceNumber"]] for r in event["Records"]]
        lane = lanes[(batch[0].shard_id, _lane_of(batch[0].partition_key, shape.factor))]
        pending = [r for r in lane if r.record_id not in esm.stats.committed]
        # Then each delivery is the run of records that starts at the lane's checkpoint
        if batch != pending[: len(batch)]:
            checkpointed_at_delivery.append(
                f"delivered {[r.sequence_number for r in batch]}, lane pending from "
                f"{[r.sequence_number for r in pending[: len(batch) + 2]]}"
            )
        action = script.choice(ACTIONS)
        if action == "error":
            raise RuntimeError("scripted function error")
        if action == "partial":
            failed = script.sample(batch, script.randint(1, len(batch)))
            return {"batchItemFailures": [{"itemIdentifier": r.sequence_number} for r in failed]}
        if action == "invalid id":
            return {"batchItemFailures": [{"itemIdentifier": "9999"}]}
        if action == "empty id":
            return {"batchItemFailures": [{"itemIdentifier": ""}]}
        return {"batchItemFailures": []}

    esm = mapping_for(shape, records, invoke, platform)

    # When the mapping is drained
    esm.drain(max_steps=100_000)

    # Then no delivery skipped its checkpoint, and every record was checkpointed
    assert checkpointed_at_delivery == []
    assert esm.stats.committed == {r.record_id for r in records}
    assert esm.stats.records_to_destination <= esm.stats.committed
