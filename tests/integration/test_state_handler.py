"""The real StateLambda handler against the StateTable and poison queue created from template.yaml (moto)."""

from decimal import Decimal

import pytest

from localpipe.faults.sdk import throttling_response
from localpipe.stack.lambda_context import LocalContext
from localpipe.stack.shapes import kinesis_event, risk_message
from riskpipe.models import RiskMessage
from tests.integration.helpers import queue_messages, state_handler, state_items


def msg(trade: str, version: int, value: str = "1.00") -> RiskMessage:
    return risk_message(trade, version, value, timestamp="1700000000.5")


def test_given_new_trades_when_handled_then_the_workshop_attributes_are_stored(stack, context):
    handler = state_handler(stack)
    response = handler(kinesis_event(msg("A", 0, "34624.51"), msg("B", 0)), context)
    assert response == {"batchItemFailures": []}
    item = stack.client("dynamodb").get_item(TableName=stack.names["StateTable"], Key={"pk": {"S": "A"}})["Item"]
    assert {name: value for name, value in item.items() if name not in ("pk", "AcceptedVersions")} == {
        "Version": {"N": "0"},
        "Value": {"N": "34624.51"},
        "Hierarchy": {"S": '{"Region": "EMEA", "RiskType": "Delta", "TradeDesk": "FXSpot"}'},
        "Timestamp": {"N": "1700000000.5"},
    }


def test_given_duplicates_and_stale_versions_when_handled_then_the_newest_version_stays(stack, context):
    handler = state_handler(stack)
    handler(kinesis_event(msg("A", 2, "20.00")), context)
    response = handler(kinesis_event(msg("A", 2, "20.00"), msg("A", 1, "10.00"), msg("A", 0, "5.00")), context)
    assert response == {"batchItemFailures": []}
    assert state_items(stack)["A"].Version == 2
    assert state_items(stack)["A"].Value == Decimal("20.00")


def test_given_versions_out_of_order_across_batches_when_handled_then_the_highest_wins(stack, context):
    handler = state_handler(stack)
    for version in (3, 1, 4, 0, 2):
        handler(kinesis_event(msg("A", version, f"{version}.00")), context)
    assert state_items(stack)["A"].Version == 4


def test_given_a_poison_record_when_handled_then_it_is_queued_with_its_reason_and_the_batch_goes_on(stack, context):
    handler = state_handler(stack)
    response = handler(kinesis_event(msg("A", 0), b"{not json", msg("B", 0)), context)
    assert response == {"batchItemFailures": []}
    assert set(state_items(stack)) == {"A", "B"}
    [poison] = queue_messages(stack, "PoisonQueue")
    assert "not valid JSON" in poison["reason"]
    assert poison["shard_id"] == "shardId-000000000000"
    assert poison["sequence_number"].endswith("0001")


def test_given_a_throttled_trade_and_no_time_left_when_handled_then_only_its_records_are_reported_failed(
    server_stack,
):
    # Given DynamoDB answering every write of trade B with a throttling error (before the request leaves botocore,
    # so the SDK's standard retry mode sees a real error response and the table never sees the write), and an
    # invocation with no time to wait beyond one call's SDK attempts (3 attempts: 3 s of backoff at most, + 5 s)
    context = LocalContext(function_name="test", remaining_time_in_millis=8_000)
    attempts = []
    session = server_stack.session

    def throttle_trade_b(request, **_):
        if b'"B"' in request.body:
            attempts.append(_text(request.headers["amz-sdk-request"]).split(";")[0])
            return throttling_response(
                request, "ThrottlingException" if len(attempts) % 2 else "ProvisionedThroughputExceededException"
            )
        return None

    session.events.register_first("before-send.dynamodb.UpdateItem", throttle_trade_b)
    handler = state_handler(server_stack, session=session, dynamodb_max_attempts=3)
    event = kinesis_event(msg("A", 0), msg("B", 0), msg("B", 1), msg("C", 0))
    # When the batch is handled
    response = handler(event, context)
    # Then both of B's records are reported for redelivery, after the SDK tried three times, and A and C are stored
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {
        event["Records"][1]["kinesis"]["sequenceNumber"],
        event["Records"][2]["kinesis"]["sequenceNumber"],
    }
    assert attempts == ["attempt=1", "attempt=2", "attempt=3"]
    assert set(state_items(server_stack)) == {"A", "C"}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_given_a_short_throttling_burst_when_handled_then_the_sdk_retries_and_the_write_is_accepted(
    server_stack, context, code
):
    # Given DynamoDB throttling the first two attempts of every write
    seen: list[str] = []
    session = server_stack.session

    def throttle_twice(request, **_):
        attempt = _text(request.headers["amz-sdk-request"]).split(";")[0]
        seen.append(attempt)
        return throttling_response(request, code) if attempt in ("attempt=1", "attempt=2") else None

    session.events.register_first("before-send.dynamodb.UpdateItem", throttle_twice)
    # When a batch is handled with the SDK allowed three attempts
    response = state_handler(server_stack, session=session, dynamodb_max_attempts=3)(
        kinesis_event(msg("A", 0, "7.50")), context
    )
    # Then the third attempt is written: nothing failed, nothing lost
    assert response == {"batchItemFailures": []}
    assert seen == ["attempt=1", "attempt=2", "attempt=3"]
    assert state_items(server_stack)["A"].Value == Decimal("7.50")


def test_given_a_burst_longer_than_the_sdks_attempts_when_time_remains_then_the_write_waits_it_out(server_stack):
    # Given DynamoDB refusing the first 7 write calls (a hot partition), the SDK allowed 2 attempts per call, and an
    # invocation with a minute left
    refused: list[str] = []
    session = server_stack.session

    def burst_of_seven(request, **_):
        if len(refused) < 7:
            refused.append(_text(request.headers["amz-sdk-request"]).split(";")[0])
            return throttling_response(request, "ProvisionedThroughputExceededException")
        return None

    session.events.register_first("before-send.dynamodb.UpdateItem", burst_of_seven)
    handler = state_handler(server_stack, session=session, dynamodb_max_attempts=2)
    # When a batch of two trades is handled
    response = handler(kinesis_event(msg("A", 0, "1.25"), msg("B", 0, "2.50")), LocalContext(function_name="test"))
    # Then the throttled write was tried again within the invocation until the burst was over: nothing failed
    assert response == {"batchItemFailures": []}
    assert len(refused) == 7
    assert state_items(server_stack)["A"].Value == Decimal("1.25")
    assert state_items(server_stack)["B"].Value == Decimal("2.50")
