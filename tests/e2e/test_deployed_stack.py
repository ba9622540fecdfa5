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

from localpipe.latency import latency_since
from localpipe.readback import read_aggregates, read_state
from riskpipe.aggregation import MESSAGE_COUNT_ID, compare_aggregates, expected_aggregates
from riskpipe.game import check_round, plan_round
from riskpipe.models import Hierarchy, RiskMessage
from riskpipe.producer import KinesisPublisher

pytestmark = pytest.mark.e2e
ORDER = ("RiskType", "TradeDesk", "Region")
INJECTED_FAILURE = "failure injected on purpose"


def wait_for(condition: Callable[[], bool], seconds: float = 180.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(2)
    return condition()


def messages(run: str) -> list[RiskMessage]:
    """Three trades of this run, revised, with a duplicate and a late (stale) version."""
    hierarchy = Hierarchy(RiskType="Delta", Region="EMEA", TradeDesk="FXSpot")
    sent = [
        RiskMessage(
            TradeID=f"E2E-{run}-{t}", Value=Decimal(f"{t}{v}.25"), Version=v, Timestamp=Decimal(1), Hierarchy=hierarchy
        )
        for t in range(3)
        for v in range(3)
    ]
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
    batches = latency_since(deployed.client("logs"), deployed["AggregateFunctionName"], started)
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


@pytest.fixture
def failing_functions(deployed) -> Iterator[float]:
    """The StateLambda and the aggregate Lambda failing a share of their invocations before any work (the
    template's InjectedFailureRate), for the duration of one test; their configuration is restored after it."""
    if not deployed.local:
        pytest.skip("changes the functions' configuration: run on the local stack of make up only")
    rate = 0.5
    client = deployed.client("lambda")
    names = [deployed["StateFunctionName"], deployed["AggregateFunctionName"]]
    saved = {name: client.get_function_configuration(FunctionName=name)["Environment"]["Variables"] for name in names}
    try:
        for name, variables in saved.items():
            client.update_function_configuration(
                FunctionName=name, Environment={"Variables": {**variables, "INJECTED_FAILURE_RATE": str(rate)}}
            )
        yield rate
    finally:
        for name, variables in saved.items():
            client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})


def injected_failures(deployed: Any, function_name: str, since: float) -> int:
    events = deployed.client("logs").filter_log_events(
        logGroupName=f"/aws/lambda/{function_name}", startTime=int(since * 1000), filterPattern=f'"{INJECTED_FAILURE}"'
    )
    return sum(INJECTED_FAILURE in e["message"] for e in events.get("events", []))


def test_given_functions_that_fail_at_random_when_bursts_are_sent_then_redelivered_batches_count_once(
    deployed, failing_functions
):
    started = time.time()
    functions = (deployed["StateFunctionName"], deployed["AggregateFunctionName"])
    failures = dict.fromkeys(functions, 0)
    for burst in range(10):  # each batch fails with that rate: small bursts until both functions have failed
        exact = send_round(deployed, calls=1, seed=20 + burst)

        assert wait_for(exact, 240), "the aggregates are not exact after the failed batches were delivered again"
        failures = {name: injected_failures(deployed, name, started) for name in functions}
        if all(failures.values()):
            break
    assert all(failures.values()), f"no batch failed, so none was delivered again: {failures}"


def test_given_the_stack_when_described_then_its_alarms_and_dashboard_exist(deployed):
    cloudwatch = deployed.client("cloudwatch")
    stack_functions = {deployed[k] for k in ("StateFunctionName", "AggregateFunctionName")}
    alarms = cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    iterator_age = {d["Value"] for a in alarms if a.get("MetricName") == "IteratorAge" for d in a.get("Dimensions", [])}
    assert stack_functions <= iterator_age
    assert deployed["DashboardUrl"].startswith("https://")
