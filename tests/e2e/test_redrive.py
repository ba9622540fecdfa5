"""End to end on the stack of ``make up``: what each stage gives up comes back once with ``make redrive``'s code.

MiniStack sends nothing to an on-failure destination (it retries a failing batch until it succeeds), so the test
makes each give-up itself, as AWS would leave it: it pauses one event source mapping, lets the records it would
have taken arrive, and puts in that stage's queue the invocation record AWS sends when a mapping gives a batch up
(``KinesisBatchInfo`` / ``DDBStreamBatchInfo``: the shard and the sequence range, never the records). The redrive
brings the batch back; the mapping, resumed, then delivers the same records, and the pipeline's own conditions
(the markers, the partials' deletes, the conditional write) make them change nothing: every version counts once.
A malformed record is quarantined, then brought back from an edited copy."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from localpipe.esm.destinations import invocation_record
from localpipe.redrive.messages import BatchInfo
from localpipe.redrive.plan import RedriveReport
from localpipe.redrive.run import Redrive
from localpipe.redrive.stack import STAGES, RedriveStack
from localpipe.stack.deployed import describe_stack
from localpipe.stack.readback import read_aggregates, read_state
from localpipe.stack.shapes import risk_message
from riskpipe.aggregation import compare_aggregates, expected_aggregates
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.models import RiskMessage
from riskpipe.partials import REDUCE_PARTITION
from tests.e2e.test_deployed_stack import ORDER, wait_for

pytestmark = pytest.mark.e2e


class Mappings:
    """The stack's three event source mappings, paused and resumed by function."""

    def __init__(self, deployed: Any) -> None:
        self.client = deployed.client("lambda")
        self.uuids = {
            output: [
                m["UUID"]
                for m in self.client.list_event_source_mappings(FunctionName=deployed[output])["EventSourceMappings"]
            ]
            for output in ("StateFunctionName", "AggregateFunctionName", "ReduceFunctionName")
        }
        self.paused_now: set[str] = set()

    def _set(self, output: str, enabled: bool) -> None:
        state = "Enabled" if enabled else "Disabled"
        for mapping in self.uuids[output]:
            self.client.update_event_source_mapping(UUID=mapping, Enabled=enabled)

            def settled(mapping: str = mapping) -> bool:
                return bool(self.client.get_event_source_mapping(UUID=mapping)["State"] == state)

            assert wait_for(settled, 120), f"mapping {mapping} is not {state}"
        (self.paused_now.discard if enabled else self.paused_now.add)(output)

    @contextlib.contextmanager
    def paused(self, output: str) -> Iterator[None]:
        self._set(output, enabled=False)
        time.sleep(2)  # a batch the mapping took before it was paused finishes
        try:
            yield
        finally:
            self._set(output, enabled=True)


@pytest.fixture
def mappings(deployed) -> Iterator[Mappings]:
    if not deployed.local:
        pytest.skip("puts messages in the stack's queues, which only its functions may do on AWS: make up only")
    mappings = Mappings(deployed)
    try:
        yield mappings
    finally:
        for output in list(mappings.paused_now):  # when the test stopped half-way
            mappings._set(output, enabled=True)


def redrive(deployed: Any, queues: Sequence[str], edits: dict[tuple[str, str], bytes] | None = None) -> RedriveReport:
    outputs, parameters = describe_stack(deployed.name, deployed.client("cloudformation"))
    stack = RedriveStack.from_outputs(deployed.name, outputs, parameters)
    return Redrive.on(stack, deployed.client, wait_seconds=0, edits=edits or {}).run(queues)


def give_up(deployed: Any, queue_output: str, function_output: str, infos: Sequence[BatchInfo]) -> None:
    """What Lambda sends to a mapping's on-failure destination when it gives these ranges up, sent there."""
    arn = deployed.client("lambda").get_function_configuration(FunctionName=deployed[function_output])["FunctionArn"]
    now = datetime.now(UTC)
    for info in infos:
        record = invocation_record(
            stream_arn=info.stream_arn,
            shard_id=info.shard_id,
            start=info.start,
            end=info.end,
            size=info.size,
            first_arrival=now,
            last_arrival=now,
            function_arn=arn,
            condition="RetryAttemptsExhausted",
            attempts=1,
            now=now,
            request_id=str(uuid.uuid4()),
        )
        deployed.client("sqs").send_message(QueueUrl=deployed[queue_output], MessageBody=json.dumps(record))


def table_stream_ranges(deployed: Any, table_output: str, wanted: Callable[[dict[str, Any]], bool]) -> list[BatchInfo]:
    """Per shard of a table's stream, the range from the first to the last record ``wanted``."""
    arn = deployed.client("dynamodb").describe_table(TableName=deployed[table_output])["Table"]["LatestStreamArn"]
    streams = deployed.client("dynamodbstreams")
    infos = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        found: list[str] = []
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            found += [r["dynamodb"]["SequenceNumber"] for r in response["Records"] if wanted(r)]
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
        if found:
            first, last = min(found, key=int), max(found, key=int)
            infos.append(BatchInfo(shard["ShardId"], first, last, len(found), arn, None))
    return infos


def newest(messages: Sequence[RiskMessage]) -> dict[str, RiskMessage]:
    return {m.TradeID: m for m in sorted(messages, key=lambda m: m.Version)}


def moved_by(
    deployed: Any, before: dict[str, Decimal], sent: Sequence[RiskMessage], accepted: int
) -> Callable[[], bool]:
    """The check that the aggregates moved by exactly the newest values of ``sent``, and message_count by
    ``accepted``, from ``before``."""

    def exact() -> bool:
        now = read_aggregates(deployed.client("dynamodb"), deployed["AggregateTableName"])
        wanted = dict(before)
        for identifier, delta in expected_aggregates(newest(sent).values(), ORDER).items():
            wanted[identifier] = wanted.get(identifier, Decimal(0)) + delta
        wanted[MESSAGE_COUNT_ID] = before.get(MESSAGE_COUNT_ID, Decimal(0)) + accepted
        return not compare_aggregates(wanted, now)

    return exact


def put(deployed: Any, message: RiskMessage | bytes, key: str) -> tuple[str, str]:
    data = message.to_wire() if isinstance(message, RiskMessage) else message
    put = deployed.client("kinesis").put_record(StreamName=deployed["StreamName"], Data=data, PartitionKey=key)
    return put["ShardId"], put["SequenceNumber"]


def holds(deployed: Any, messages: Sequence[RiskMessage]) -> bool:
    stored = read_state(deployed.client("dynamodb"), deployed["StateTableName"])
    return all(stored.get(m.TradeID) == m for m in messages)


def waiting_for_reduce(deployed: Any) -> set[str]:
    """The ids of the partials in the ReduceTable (the reducer's input: every item under one partition key)."""
    pages = (
        deployed.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=deployed["ReduceTableName"],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": REDUCE_PARTITION}},
            ProjectionExpression="sk",
            ConsistentRead=True,
        )
    )
    return {item["sk"]["S"] for page in pages for item in page["Items"]}


def quarantined(deployed: Any, shard: str, sequence: str) -> bool:
    """Whether the poison queue holds this record (looked at, left there)."""
    sqs = deployed.client("sqs")
    received = sqs.receive_message(QueueUrl=deployed["PoisonQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0)
    return any(
        (body := json.loads(m["Body"]))["shard_id"] == shard and body["sequence_number"] == sequence
        for m in received.get("Messages", [])
    )


def test_given_give_ups_in_every_stage_when_redriven_then_each_comes_back_once_and_the_aggregates_are_exact(
    deployed, mappings
):
    run = f"E2E-RD-{uuid.uuid4().hex[:8]}"
    trades = [f"{run}-{i}" for i in range(3)]
    dynamodb = deployed.client("dynamodb")
    before = read_aggregates(dynamodb, deployed["AggregateTableName"])
    sent = [risk_message(t, 0, f"{i + 1}1.25") for i, t in enumerate(trades)]

    # Given the map's mapping gives up the first versions of three trades
    with mappings.paused("AggregateFunctionName"):
        for message in sent:
            put(deployed, message, message.TradeID)
        assert wait_for(lambda: holds(deployed, sent)), "the StateLambda did not write the first versions"
        ranges = table_stream_ranges(deployed, "StateTableName", lambda r: r["dynamodb"]["Keys"]["pk"]["S"] in trades)
        give_up(deployed, "AggregateFailureQueueUrl", "AggregateFunctionName", ranges)
        # When redriven
        report = redrive(deployed, ["map"])
        # Then the three trades are applied from their markers' state (none), and their message is gone
        assert report.brought_back["map"] == 3 and report.fates.left() == 0, report.last_line()
    # and the mapping, resumed, delivers them again: the markers drop them, every version counts once
    assert wait_for(moved_by(deployed, before, sent, accepted=3)), "the map's give-up did not come back exactly"

    # Given the reduce's mapping gives up the partial of a revision
    revision = risk_message(trades[0], 1, "7.50")
    with mappings.paused("ReduceFunctionName"):
        waiting = waiting_for_reduce(deployed)
        put(deployed, revision, revision.TradeID)
        # (the map's partial, or with the combining level the combined partial that holds it)
        assert wait_for(lambda: waiting_for_reduce(deployed) - waiting), "no partial reached the reducer"
        [partial_id] = waiting_for_reduce(deployed) - waiting
        ranges = table_stream_ranges(
            deployed,
            "ReduceTableName",
            lambda r: r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["sk"]["S"] == partial_id,
        )
        give_up(deployed, "ReduceFailureQueueUrl", "ReduceFunctionName", ranges)
        report = redrive(deployed, ["reduce"])
        assert report.brought_back["reduce"] == 1 and report.fates.left() == 0, report.last_line()
    sent.append(revision)
    assert wait_for(moved_by(deployed, before, sent, accepted=4)), "the reduce's give-up did not come back exactly"

    # Given the StateLambda's mapping gives up a record
    late = risk_message(trades[1], 1, "3.00")
    with mappings.paused("StateFunctionName"):
        shard, sequence = put(deployed, late, late.TradeID)
        stream = deployed["StreamArn"]
        give_up(
            deployed,
            "StateFailureQueueUrl",
            "StateFunctionName",
            [BatchInfo(shard, sequence, sequence, 1, stream, None)],
        )
        report = redrive(deployed, ["state"])
        assert report.brought_back["state"] == 1 and report.fates.left() == 0, report.last_line()
    sent.append(late)  # read back and sent again: once resumed, the original is a duplicate
    assert wait_for(moved_by(deployed, before, sent, accepted=5)), "the StateLambda's give-up did not come back exactly"

    # Given a malformed record quarantined (its Value a string), and an edited copy of it
    fixed = risk_message(trades[2], 1, "4.75")
    shard, sequence = put(deployed, fixed.to_wire().replace(b'"Value":4.75', b'"Value":"4.75"'), fixed.TradeID)
    assert wait_for(lambda: quarantined(deployed, shard, sequence), 120), "the malformed record was not quarantined"
    report = redrive(deployed, ["poison"], edits={(shard, sequence): fixed.to_wire()})
    assert report.brought_back["poison"] == 1, report.last_line()
    assert not quarantined(deployed, shard, sequence)
    sent.append(fixed)
    assert wait_for(moved_by(deployed, before, sent, accepted=6)), "the poison record did not come back exactly"

    # When every queue is redriven, twice: nothing of this run is left to bring back, and nothing moves
    first = redrive(deployed, STAGES)
    aggregates = read_aggregates(dynamodb, deployed["AggregateTableName"])
    second = redrive(deployed, STAGES)
    assert first.exact and second.exact, second.last_line()
    assert sum(second.brought_back.values()) == 0, second.last_line()
    assert read_aggregates(dynamodb, deployed["AggregateTableName"]) == aggregates
