"""The StateLambda's decisions: newest version wins, duplicates and stale records are told apart,
poison is quarantined, and a failed write fails only its own trade's records."""

import json
import random
from decimal import Decimal

import pytest

from localpipe.stack.shapes import risk_message, sequence_number, stream_records
from riskpipe.models import RiskMessage, WriteOutcome
from riskpipe.state_service import StateService, StreamRecord
from riskpipe.throttling import Backoff, Pacing
from tests.unit.fakes import FakeTime, InMemoryStateStore, ListPoisonSink


def message(trade: str, version: int, value: str = "10.00") -> RiskMessage:
    return risk_message(trade, version, value)


def outcomes(service: StateService, batch: list[StreamRecord]) -> list[str]:
    decisions = service.decide(batch)
    return [decisions.by_sequence[r.sequence_number].outcome.value for r in batch]  # type: ignore[union-attr]


@pytest.fixture
def store() -> InMemoryStateStore:
    return InMemoryStateStore()


@pytest.fixture
def poison() -> ListPoisonSink:
    return ListPoisonSink()


def test_given_new_trades_when_decided_then_each_is_accepted_with_one_write(store, poison):
    service = StateService(store, poison)
    assert outcomes(service, stream_records(message("A", 0), message("B", 0))) == ["accepted", "accepted"]
    assert len(store.writes) == 2


def test_given_a_stored_version_when_the_same_version_arrives_then_it_is_a_duplicate(store, poison):
    service = StateService(store, poison)
    service.decide(stream_records(message("A", 3)))
    assert outcomes(service, stream_records(message("A", 3))) == ["duplicate"]


def test_given_a_stored_version_when_an_older_version_arrives_then_it_is_stale_and_not_written_over(store, poison):
    service = StateService(store, poison)
    service.decide(stream_records(message("A", 3, "30.00")))
    assert outcomes(service, stream_records(message("A", 1, "10.00"))) == ["stale"]
    assert store.items["A"].Value == Decimal("30.00")


def test_given_versions_of_a_trade_out_of_order_in_one_batch_when_decided_then_one_write_of_the_highest(store, poison):
    service = StateService(store, poison)
    batch = stream_records(message("A", 2, "20.00"), message("A", 0), message("A", 2, "20.00"), message("A", 1))
    assert outcomes(service, batch) == ["accepted", "stale", "duplicate", "stale"]
    assert [(m.TradeID, m.Version) for m in store.writes] == [("A", 2)]
    assert store.items["A"].Value == Decimal("20.00")


def test_given_a_newer_stored_version_when_a_batch_holds_older_ones_then_all_are_stale(store, poison):
    service = StateService(store, poison)
    service.decide(stream_records(message("A", 5)))
    assert outcomes(service, stream_records(message("A", 4), message("A", 3))) == ["stale", "stale"]


def test_given_a_poison_record_when_decided_then_it_is_quarantined_with_its_reason_and_the_rest_is_written(
    store, poison
):
    service = StateService(store, poison)
    batch = stream_records(message("A", 0), b"{not json", message("B", 0))
    assert outcomes(service, batch) == ["accepted", "poison", "accepted"]
    [quarantined] = poison.records
    assert quarantined.data == b"{not json"
    assert quarantined.sequence_number == sequence_number(1)
    assert quarantined.shard_id == "shardId-000000000000"
    assert "not valid JSON" in quarantined.reason


def test_given_the_poison_queue_is_down_when_a_poison_record_arrives_then_it_fails_for_redelivery(store):
    service = StateService(store, ListPoisonSink(fail=ConnectionError("sqs unreachable")))
    decisions = service.decide(stream_records(b"[]", message("A", 0)))
    assert decisions.failed() == [sequence_number(0)]
    with pytest.raises(ConnectionError):
        decisions.result_for(sequence_number(0))
    assert decisions.result_for(sequence_number(1)) is WriteOutcome.ACCEPTED


def test_given_a_write_that_fails_when_decided_then_only_that_trades_records_fail(poison):
    store = InMemoryStateStore(failing_trades={"B": RuntimeError("throttled")})
    service = StateService(store, poison)
    decisions = service.decide(stream_records(message("A", 0), message("B", 0), message("B", 1), message("C", 0)))
    assert decisions.failed() == [sequence_number(1), sequence_number(2)]
    assert decisions.counts() == {"accepted": 2, "failed": 2}


def test_given_a_throttling_burst_when_time_remains_then_the_write_is_tried_again_after_a_backoff(poison):
    # Given a store whose next 6 writes are refused for throughput, and a minute left in the invocation
    store, fake = InMemoryStateStore(throttled_writes=6), FakeTime()
    backoff = Backoff(base_seconds=0.1, cap_seconds=1.0, reserve_seconds=10.0)
    service = StateService(store, poison, backoff=backoff, pacing=Pacing(fake.clock, fake.sleep, random.Random(1)))
    # When a batch of two trades is decided
    decisions = service.decide(stream_records(message("A", 0), message("B", 0)), time_left=60.0)
    # Then both are accepted after 6 jittered, growing, capped waits; nothing fails
    assert decisions.counts() == {"accepted": 2}
    assert decisions.throttled_retries == 6
    assert len(fake.sleeps) == 6
    assert all(0 <= s <= min(1.0, 0.1 * 2**retry) for retry, s in enumerate(fake.sleeps))


def test_given_a_burst_longer_than_the_time_left_when_decided_then_the_trade_fails_before_the_deadline(poison):
    # Given a store that keeps refusing writes, and 15 s left of which 10 are kept for the last call and the report
    store, fake = InMemoryStateStore(throttled_writes=10**6), FakeTime()
    backoff = Backoff(base_seconds=0.1, cap_seconds=1.0, reserve_seconds=10.0)
    service = StateService(store, poison, backoff=backoff, pacing=Pacing(fake.clock, fake.sleep, random.Random(2)))
    # When a trade is decided
    decisions = service.decide(stream_records(message("A", 0)), time_left=15.0)
    # Then it waited at most the 5 s it had, and its record is reported failed (Lambda delivers it again)
    assert decisions.failed() == [sequence_number(0)]
    assert 0 < fake.now <= 5.0
    assert len(store.writes) == len(fake.sleeps) + 1


def test_given_no_time_budget_when_a_write_is_throttled_then_it_fails_at_once(poison):
    store, fake = InMemoryStateStore(throttled_writes=1), FakeTime()
    service = StateService(store, poison, pacing=Pacing(fake.clock, fake.sleep))
    decisions = service.decide(stream_records(message("A", 0)))
    assert decisions.failed() == [sequence_number(0)]
    assert fake.sleeps == []


def test_given_many_trades_when_decided_concurrently_then_every_outcome_matches_a_serial_run(poison):
    batch = stream_records(*[message(f"T{i % 20}", i // 20) for i in range(100)])
    serial, concurrent = InMemoryStateStore(), InMemoryStateStore()
    serial_outcomes = outcomes(StateService(serial, poison, write_concurrency=1), batch)
    concurrent_outcomes = outcomes(StateService(concurrent, poison, write_concurrency=8), batch)
    assert serial_outcomes == concurrent_outcomes
    assert serial.items == concurrent.items
    assert len(concurrent.writes) == 20


def test_given_a_lambda_kinesis_record_when_converted_then_shard_and_data_are_read():
    event_record = {
        "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
        "eventSourceARN": "arn:aws:kinesis:region:123456789012:stream/risk",
        "kinesis": {
            "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
            "partitionKey": "A",
            "data": "eyJhIjogMX0=",
            "approximateArrivalTimestamp": 1545084650.987,
        },
    }
    record = StreamRecord.from_lambda_record(event_record)
    assert record.shard_id == "shardId-000000000006"
    assert json.loads(record.data) == {"a": 1}
