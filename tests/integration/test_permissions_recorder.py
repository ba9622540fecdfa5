"""The recorder tells principals apart where the local runner cannot by its process or its environment: every
function in one process, the StateLambda writing from a thread pool. Each request is recorded under the principal
whose own client made it."""

from __future__ import annotations

import threading
from typing import Any

from functions.aggregate.app import build_service as build_aggregate
from functions.state.app import build_service as build_state
from localpipe.stack.lambda_context import AGGREGATE_FUNCTION, STATE_FUNCTION
from localpipe.stack.local import function_env, local_stack
from localpipe.stack.shapes import risk_message, stream_records
from permissions.record import namer_of
from permissions.recorder import Recorder
from riskpipe.config import AggregateSettings, StateSettings


class ThreadSpy:
    """A session whose clients note the thread of every call they make."""

    def __init__(self, inner: Any, threads: set[str]) -> None:
        self.inner, self.threads = inner, threads

    def client(self, *args: Any, **kwargs: Any) -> Any:
        client = self.inner.client(*args, **kwargs)
        client.meta.events.register(
            "before-parameter-build", lambda **_: self.threads.add(threading.current_thread().name)
        )
        return client


def test_given_the_state_lambda_writing_from_threads_beside_another_function_then_each_request_is_its_own():
    with local_stack(in_process=True, serial_writes=False) as deployed:
        recorder = Recorder(namer_of(deployed))
        threads: set[str] = set()
        state_settings = StateSettings.from_env(function_env(deployed, STATE_FUNCTION))
        state = build_state(state_settings, ThreadSpy(recorder.session(STATE_FUNCTION, deployed.session), threads))
        aggregate_settings = AggregateSettings.from_env(function_env(deployed, AGGREGATE_FUNCTION))
        build_aggregate(aggregate_settings, recorder.session(AGGREGATE_FUNCTION, deployed.session))

        # When 64 trades are decided (16 writers at once), with a poison record among them
        records = stream_records(*[risk_message(f"T{n}", 0, "1.00") for n in range(64)], b"not json")
        state.decide(records)

    # Then the writes came from the pool's threads, and every one of them was the StateLambda's
    assert state_settings.write_concurrency > 1 and len(threads) > 1
    assert {(r.principal, r.operation, r.resources) for r in recorder.requests} == {
        (STATE_FUNCTION, "UpdateItem", (("TableName", "StateTable"),)),
        (STATE_FUNCTION, "SendMessage", (("QueueUrl", "PoisonQueue"),)),
    }


def test_given_a_name_the_stack_does_not_have_then_it_is_recorded_as_unknown_for_the_check_to_refuse():
    with local_stack(in_process=True) as deployed:
        recorder = Recorder(namer_of(deployed))
        client = recorder.session(STATE_FUNCTION, deployed.session).client("dynamodb")
        client.create_table(
            TableName="elsewhere",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    [request] = recorder.requests
    assert request.resources == (("TableName", "?elsewhere"),)


def test_given_a_shard_read_through_its_iterators_then_each_get_records_is_recorded_on_the_stream_they_read():
    # Given a Kinesis stream and a table's stream, each with records, read through an operator's clients
    with local_stack(in_process=True) as deployed:
        recorder = Recorder(namer_of(deployed))
        session = recorder.session("Operator", deployed.session)
        kinesis, streams = session.client("kinesis"), session.client("dynamodbstreams")
        stream = deployed.names["RiskStream"]
        kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k")
        deployed.client("dynamodb").put_item(TableName=deployed.names["StateTable"], Item={"pk": {"S": "T"}})
        # When each is read from its start, a page after another (GetRecords names only the iterator it is given)
        shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        following = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["NextShardIterator"]
        kinesis.get_records(ShardIterator=following)
        arn = deployed.stream_arns["StateTable"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        streams.get_records(ShardIterator=iterator["ShardIterator"])

    # Then every GetRecords is recorded on the stream its iterator was taken from
    reads = {(r.service, r.resources) for r in recorder.requests if r.operation == "GetRecords"}
    assert reads == {
        ("kinesis", (("StreamName", "RiskStream"),)),
        ("dynamodbstreams", (("StreamArn", "StateTable.StreamArn"),)),
    }
