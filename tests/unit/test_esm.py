"""The event source mapping runner against the documented semantics, with an in-memory stream."""

import random

from localpipe.esm.filters import matches_filter
from localpipe.esm.mapping import EventSourceMapping
from localpipe.esm.streams import SourceRecord
from localpipe.faults.plan import DeliveryFaults
from localpipe.stack.shapes import STREAM_ARN
from localpipe.stack.template import EventSource


class ListReader:
    def __init__(self, records):
        self.pending = list(records)

    def poll(self):
        taken, self.pending = self.pending, []
        return taken


class ListDestination:
    def __init__(self):
        self.messages = []

    def send(self, message, record_ids):
        self.messages.append((message, list(record_ids)))


def records(count, keys=("k",)):
    return [
        SourceRecord(
            "shard-0",
            f"{i:03d}",
            keys[i % len(keys)],
            0.0,
            {"kinesis": {"sequenceNumber": f"{i:03d}", "partitionKey": keys[i % len(keys)]}},
        )
        for i in range(count)
    ]


def mapping(invoke, count, *, batch_size=4, retries=2, bisect=False, factor=1, keys=("k",), destination=None):
    config = EventSource(
        "F",
        "S",
        "Kinesis",
        "Stream",
        {
            "BatchSize": batch_size,
            "MaximumRetryAttempts": retries,
            "BisectBatchOnFunctionError": bisect,
            "ParallelizationFactor": factor,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    rng = random.Random(1)
    return EventSourceMapping(
        config,
        ListReader(records(count, keys)),
        invoke,
        destination=destination,
        source_arn=STREAM_ARN,
        rng=rng,
        faults=DeliveryFaults(rng),
        clock=lambda: 1.0,
    )


def seqs(event):
    return [r["kinesis"]["sequenceNumber"] for r in event["Records"]]


def test_given_a_partial_failure_when_reported_then_the_records_from_the_lowest_failed_one_are_delivered_again():
    calls = []

    def invoke(event):
        calls.append(seqs(event))
        if len(calls) == 1:
            return {"batchItemFailures": [{"itemIdentifier": "002"}]}
        return {"batchItemFailures": []}

    esm = mapping(invoke, 6)
    esm.drain()
    assert calls == [["000", "001", "002", "003"], ["002", "003", "004", "005"]]


def test_given_a_function_error_with_bisect_when_retried_then_the_batch_is_split_in_two():
    calls = []

    def invoke(event):
        calls.append(seqs(event))
        if "001" in seqs(event) and len(seqs(event)) > 1:
            raise RuntimeError("boom")
        return {}

    esm = mapping(invoke, 4, bisect=True, retries=5)
    esm.drain()
    assert calls[:3] == [["000", "001", "002", "003"], ["000", "001"], ["000"]]
    assert esm.stats.bisections == 2


def test_given_a_batch_that_always_fails_when_retries_run_out_then_it_goes_to_the_destination_and_the_shard_moves_on():
    calls = []
    destination = ListDestination()

    def invoke(event):
        calls.append(seqs(event))
        if "000" in seqs(event):
            raise RuntimeError("poison")
        return {}

    esm = mapping(invoke, 6, retries=2, destination=destination)
    esm.drain()
    assert calls.count(["000", "001", "002", "003"]) == 3  # the first try and two retries
    [(message, ids)] = destination.messages
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["KinesisBatchInfo"]["startSequenceNumber"] == "000"
    assert ids == ["shard-0:000", "shard-0:001", "shard-0:002", "shard-0:003"]
    assert calls[-1] == ["004", "005"]


def test_given_parallelization_when_batches_interleave_then_order_is_kept_per_partition_key():
    seen = {}

    def invoke(event):
        for record in event["Records"]:
            seen.setdefault(record["kinesis"]["partitionKey"], []).append(record["kinesis"]["sequenceNumber"])
        return {}

    esm = mapping(invoke, 40, batch_size=3, factor=4, keys=("a", "b", "c", "d", "e"))
    esm.drain()
    assert all(order == sorted(order) for order in seen.values())
    assert sum(len(v) for v in seen.values()) == 40


def test_given_a_filter_when_records_do_not_match_then_they_are_dropped():
    pattern = {"eventName": ["INSERT", "MODIFY"]}
    assert matches_filter(pattern, {"eventName": "INSERT"})
    assert not matches_filter(pattern, {"eventName": "REMOVE"})
    assert matches_filter(
        {"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "T"}]}}}}, {"dynamodb": {"Keys": {"pk": {"S": "T1"}}}}
    )


def test_given_exists_rules_when_filtering_then_they_apply_to_leaves_as_aws_documents():
    # Given DynamoDB images with and without a Combined attribute
    combined = {"dynamodb": {"NewImage": {"pk": {"S": "A#0#combined"}, "Combined": {"BOOL": True}}}}
    plain = {"dynamodb": {"NewImage": {"pk": {"S": "A#0"}}}}
    # Then "exists": false on the leaf under an absent attribute matches, and not under a present one
    absent = {"dynamodb": {"NewImage": {"Combined": {"BOOL": [{"exists": False}]}}}}
    assert matches_filter(absent, plain) and not matches_filter(absent, combined)
    # and "exists" on an intermediate node never sees a value (AWS: exists works on leaf nodes only)
    assert not matches_filter({"dynamodb": {"NewImage": {"Combined": [{"exists": True}]}}}, combined)
    assert matches_filter({"dynamodb": {"NewImage": {"Combined": {"BOOL": [{"exists": True}]}}}}, combined)
    assert matches_filter({"dynamodb": {"NewImage": {"Combined": {"BOOL": [True]}}}}, combined)
    assert not matches_filter({"dynamodb": {"NewImage": {"Combined": {"BOOL": [True]}}}}, plain)
