"""End to end on a deployed stack (on AWS, or on the local AWS of ``make up``): messages go in through the real
producer Lambda or straight onto the stream; the StateTable ends up with the newest version of each trade, the
aggregates move by exactly the latest values sent, a malformed record lands in the poison queue with its reason,
and batches that failed are delivered again by the event source mappings without counting anything twice."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from localpipe.report.latency import latency_since
from localpipe.stack.readback import read_aggregates, read_state
from localpipe.stack.shapes import risk_message
from riskpipe.aggregation import compare_aggregates, expected_aggregates
from riskpipe.game import check_round, plan_round
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.models import RiskMessage
from riskpipe.publisher import KinesisPublisher

pytestmark = pytest.mark.e2e
ORDER = ("RiskType", "TradeDesk", "Region")


def wait_for(condition: Callable[[], bool], seconds: float = 180.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(2)
    return condition()


def messages(run: str) -> list[RiskMessage]:
    """Three trades of this run, revised, with a duplicate and a late (stale) version."""
    sent = [risk_message(f"E2E-{run}-{t}", v, f"{t}{v}.25") for t in range(3) for v in range(3)]
    return [*sent, sent[4], sent[0]]  # a duplicate, and version 0 of trade 0 again, after its version 2


def invoke(deployed: Any, event: dict[str, Any]) -> dict[str, Any]:
    response = deployed.client("lambda").invoke(
        FunctionName=deployed["ProducerFunctionName"], Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload  # type: ignore[no-any-return]


def send_round(deployed: Any, calls: int, seed: int) -> Callable[[], bool]:
    """A round of the workshop's lab-2 traffic over trades of its own, straight onto the stream; returns the
    check that the aggregates moved by exactly what it sent."""
    dynamodb = deployed.client("dynamodb")
    planned = plan_round(uuid.uuid4().hex[:8], seed, ORDER, calls=calls)
    before = read_aggregates(dynamodb, deployed["AggregateTableName"])
    publisher = KinesisPublisher(deployed["StreamName"], deployed.client("kinesis"))
    for call in planned.calls:
        publisher.publish(call)
    return lambda: check_round(planned, before, read_aggregates(dynamodb, deployed["AggregateTableName"])).exact


def test_given_revisions_duplicates_and_a_late_version_when_sent_then_state_and_aggregates_are_exact(deployed):
    dynamodb = deployed.client("dynamodb")
    before = read_aggregates(dynamodb, deployed["AggregateTableName"])
    sent = messages(uuid.uuid4().hex[:8])
    result = invoke(deployed, {"messages": [json.loads(m.to_wire()) for m in sent]})
    assert result["sent"] == len(sent)

    newest = {m.TradeID: m for m in sent if m.Version == 2}
    assert wait_for(
        lambda: all(read_state(dynamodb, deployed["StateTableName"]).get(t) == m for t, m in newest.items())
    ), "the StateTable does not hold the newest version of every trade"

    def exact() -> bool:
        now = read_aggregates(dynamodb, deployed["AggregateTableName"])
        wanted = dict(before)
        for identifier, delta in expected_aggregates(sent, ORDER).items():
            wanted[identifier] = wanted.get(identifier, Decimal(0)) + delta
        wanted.pop(MESSAGE_COUNT_ID, None)
        return not compare_aggregates(wanted, {k: v for k, v in now.items() if k != MESSAGE_COUNT_ID})

    assert wait_for(exact), "the aggregates did not move by exactly the latest values sent"


def test_given_a_burst_of_the_workshops_traffic_when_sent_then_the_aggregates_move_by_exactly_its_values(deployed):
    started = time.time()
    exact = send_round(deployed, calls=25, seed=11)  # 1,125 records: revisions, stale versions, copies

    assert wait_for(exact), "the aggregates did not move by exactly the latest values of the burst"
    batches = latency_since(deployed.client("logs"), deployed["ReduceFunctionName"], started)
    assert batches, "the aggregate stage published no end-to-end latency"
    assert all(0 < b.mean_ms <= b.max_ms for b in batches)


def test_given_a_malformed_record_when_put_on_the_stream_then_it_lands_in_the_poison_queue_with_its_reason(deployed):
    marker = f"E2E-POISON-{uuid.uuid4().hex[:8]}"
    data = f'{{"TradeID": "{marker}", "Value": "not a number"'.encode()  # not even JSON
    deployed.client("kinesis").put_record(StreamName=deployed["StreamName"], Data=data, PartitionKey=marker)
    sqs = deployed.client("sqs")
    found: list[dict[str, Any]] = []

    def quarantined() -> bool:
        received = sqs.receive_message(QueueUrl=deployed["PoisonQueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in received.get("Messages", []):
            body = json.loads(message["Body"])
            if base64.b64decode(body["data_base64"]) == data:
                found.append(body)
                sqs.delete_message(QueueUrl=deployed["PoisonQueueUrl"], ReceiptHandle=message["ReceiptHandle"])
            else:  # another run's: put it back at once
                sqs.change_message_visibility(
                    QueueUrl=deployed["PoisonQueueUrl"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        return bool(found)

    assert wait_for(quarantined, 120), "the malformed record did not reach the poison queue"
    assert "not valid JSON" in found[0]["reason"]
    assert found[0]["partition_key"] == marker


class Consumers:
    """The stream consumers (the StateLambda, the aggregate Lambda), one of which can be given a configuration its
    validated settings refuse (as a bad deploy would): every invocation then fails before any work, until fixed."""

    BROKEN = {"INJECTED_FAILURE_RATE": "1"}  # above the settings' bound of 0.5
    REFUSED = "injected_failure_rate"  # what the settings' error names, in the function's log

    def __init__(self, deployed: Any) -> None:
        self.deployed = deployed
        self.client = deployed.client("lambda")
        self.saved = {
            name: self.client.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
            for name in (deployed["StateFunctionName"], deployed["AggregateFunctionName"])
        }
        self.broken: set[str] = set()

    def configure(self, name: str, *, broken: bool) -> None:
        (self.broken.add if broken else self.broken.discard)(name)
        variables = {**self.saved[name], **(self.BROKEN if broken else {})}
        self.client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        self.client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})

    def failures(self, name: str, since: float) -> int:
        events = self.deployed.client("logs").filter_log_events(
            logGroupName=f"/aws/lambda/{name}", startTime=int(since * 1000), filterPattern=f'"{self.REFUSED}"'
        )
        return len(events.get("events", []))


@pytest.fixture
def consumers(deployed) -> Iterator[Consumers]:
    if not deployed.local:
        pytest.skip("changes the functions' configuration: run on the local stack of make up only")
    consumers = Consumers(deployed)
    try:
        yield consumers
    finally:
        for name in list(consumers.broken):  # when the test stopped half-way
            consumers.configure(name, broken=False)


def test_given_an_aggregate_lambda_failing_until_fixed_when_a_burst_is_sent_then_its_batches_come_again_exactly(
    deployed, consumers
):
    aggregate = deployed["AggregateFunctionName"]
    consumers.configure(aggregate, broken=True)
    started = time.time()
    exact = send_round(deployed, calls=2, seed=21)
    assert wait_for(lambda: consumers.failures(aggregate, started) > 0, 120), "the aggregate Lambda was not invoked"
    assert not exact(), "aggregates moved while the aggregate Lambda failed every batch"

    consumers.configure(aggregate, broken=False)  # its mapping delivers the failed batches again

    assert wait_for(exact, 180), "the aggregates are not exact after the failed batches were delivered again"


def test_given_the_stack_when_described_then_its_alarms_and_dashboard_exist(deployed):
    cloudwatch = deployed.client("cloudwatch")
    stack_functions = {deployed[k] for k in ("StateFunctionName", "AggregateFunctionName", "ReduceFunctionName")}
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
    alarms = [alarm for page in pages for alarm in page["MetricAlarms"]]  # an account has more than one page
    iterator_age = {d["Value"] for a in alarms if a.get("MetricName") == "IteratorAge" for d in a.get("Dimensions", [])}
    assert stack_functions <= iterator_age
    assert deployed["DashboardUrl"].startswith("https://")
