"""The real StateLambda handler against the StateTable and poison queue created from template.yaml (moto)."""

import json
from decimal import Decimal

import pytest

from riskpipe.models import Hierarchy, RiskMessage
from tests.integration.helpers import kinesis_event, queue_messages, state_handler, state_items

H = Hierarchy(RiskType="Delta", Region="EMEA", TradeDesk="FXSpot")


def msg(trade: str, version: int, value: str = "1.00") -> RiskMessage:
    return RiskMessage(
        TradeID=trade, Value=Decimal(value), Version=version, Timestamp=Decimal("1700000000.5"), Hierarchy=H
    )


def test_given_new_trades_when_handled_then_the_workshop_attributes_are_stored(stack, context):
    handler = state_handler(stack)
    response = handler(kinesis_event(msg("A", 0, "34624.51"), msg("B", 0)), context)
    assert response == {"batchItemFailures": []}
    items = state_items(stack)
    assert items["A"] == {
        "Version": 0,
        "Value": Decimal("34624.51"),
        "Hierarchy": '{"Region": "EMEA", "RiskType": "Delta", "TradeDesk": "FXSpot"}',
        "Timestamp": Decimal("1700000000.5"),
    }


def test_given_duplicates_and_stale_versions_when_handled_then_the_newest_version_stays(stack, context):
    handler = state_handler(stack)
    handler(kinesis_event(msg("A", 2, "20.00")), context)
    response = handler(kinesis_event(msg("A", 2, "20.00"), msg("A", 1, "10.00"), msg("A", 0, "5.00")), context)
    assert response == {"batchItemFailures": []}
    assert state_items(stack)["A"]["Version"] == 2
    assert state_items(stack)["A"]["Value"] == Decimal("20.00")


def test_given_versions_out_of_order_across_batches_when_handled_then_the_highest_wins(stack, context):
    handler = state_handler(stack)
    for version in (3, 1, 4, 0, 2):
        handler(kinesis_event(msg("A", version, f"{version}.00")), context)
    assert state_items(stack)["A"]["Version"] == 4


def test_given_a_poison_record_when_handled_then_it_is_queued_with_its_reason_and_the_batch_goes_on(stack, context):
    handler = state_handler(stack)
    response = handler(kinesis_event(msg("A", 0), b"{not json", msg("B", 0)), context)
    assert response == {"batchItemFailures": []}
    assert set(state_items(stack)) == {"A", "B"}
    [poison] = queue_messages(stack, "PoisonQueue")
    assert "not valid JSON" in poison["reason"]
    assert poison["shard_id"] == "shardId-000000000000"
    assert poison["sequence_number"].endswith("0001")


def test_given_a_throttled_trade_when_handled_then_only_its_records_are_reported_failed(stack, aws, context):
    attempts = []

    def throttle_trade_b(request, **_):
        if b'"B"' in request.body:
            attempts.append(1)
            from botocore.awsrequest import AWSResponse

            body = json.dumps(
                {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"}
            )

            class Raw:
                def stream(self, **_):
                    yield body.encode()

            return AWSResponse(request.url, 400, {}, Raw())
        return None

    aws.events.register_first("before-send.dynamodb.UpdateItem", throttle_trade_b)
    handler = state_handler(stack, session=aws, dynamodb_max_attempts=3)
    event = kinesis_event(msg("A", 0), msg("B", 0), msg("B", 1), msg("C", 0))
    response = handler(event, context)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {
        event["Records"][1]["kinesis"]["sequenceNumber"],
        event["Records"][2]["kinesis"]["sequenceNumber"],
    }
    assert len(attempts) == 3  # the SDK's standard retry mode tried three times before giving up
    assert {"A", "C"} <= set(state_items(stack))


@pytest.mark.parametrize("name", ["kinesis-batch.json"])
def test_given_a_sample_event_when_handled_then_it_succeeds(stack, context, name):
    from tests.conftest import load_event

    assert state_handler(stack)(load_event(f"state/{name}"), context) == {"batchItemFailures": []}
