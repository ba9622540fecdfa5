"""Bad input through the real StateLambda (tables and queue from template.yaml, moto): every malformed record
goes to the poison queue with a clear reason, the valid records of its batch are written, nothing crashes."""

from decimal import Decimal

from localpipe.stack.shapes import kinesis_event, risk_message
from riskpipe.models import Hierarchy, RiskMessage
from tests.bad_records import BAD_RECORDS
from tests.integration.helpers import queue_messages, state_handler, state_items

PV = Hierarchy(RiskType="PV", Region="APAC", TradeDesk="FXOptions")


def valid(index: int) -> RiskMessage:
    return risk_message(f"OK{index}", 0, Decimal(index) + Decimal("0.5"), hierarchy=PV)


def test_given_every_kind_of_malformed_record_in_one_batch_when_handled_then_each_is_quarantined_with_its_reason(
    stack, context
):
    # Given a batch where every malformed record sits between two valid ones
    items: list[RiskMessage | bytes] = [valid(0)]
    for index, (data, _) in enumerate(BAD_RECORDS.values(), start=1):
        items += [data, valid(index)]
    event = kinesis_event(*items)
    # When the real handler takes it
    response = state_handler(stack)(event, context)
    # Then no record is failed (poison is not retried), every valid record is stored ...
    assert response == {"batchItemFailures": []}
    assert set(state_items(stack)) == {f"OK{i}" for i in range(len(BAD_RECORDS) + 1)}
    # ... and each malformed record is in the poison queue once, with its position, data and reason
    poison = {p["sequence_number"]: p for p in queue_messages(stack, "PoisonQueue")}
    assert len(poison) == len(BAD_RECORDS)
    for index, (_, reason) in enumerate(BAD_RECORDS.values(), start=1):
        record = event["Records"][2 * index - 1]["kinesis"]
        quarantined = poison[record["sequenceNumber"]]
        assert reason in quarantined["reason"], (reason, quarantined["reason"])
        assert quarantined["data_base64"] == record["data"]
        assert quarantined["shard_id"] == "shardId-000000000000"
