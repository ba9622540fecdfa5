"""The producer: generated versions, and no entry lost when PutRecords fails some (the workshop's traffic:
test_producer_workshop.py)."""

from riskpipe.producer import generate_messages
from riskpipe.publisher import KinesisPublisher


def test_given_generated_messages_when_a_trade_repeats_then_its_versions_increase_or_repeat_exactly():
    sent = generate_messages(500, 20, seed=2, duplicates=0.2, now=0.0)
    seen: dict[tuple[str, int], object] = {}
    for message in sent:
        assert seen.setdefault((message.TradeID, message.Version), message) == message
    assert len({m.TradeID for m in sent}) == 20


class FlakyKinesis:
    def __init__(self):
        self.calls = []

    def put_records(self, StreamName, Records):
        self.calls.append(len(Records))
        failed = len(self.calls) == 1
        return {
            "FailedRecordCount": 2 if failed else 0,
            "Records": [
                {"ErrorCode": "ProvisionedThroughputExceededException"} if failed and i < 2 else {"SequenceNumber": "1"}
                for i in range(len(Records))
            ],
        }


def test_given_put_records_fails_some_entries_when_publishing_then_only_those_are_sent_again():
    client = FlakyKinesis()
    report = KinesisPublisher("s", client, sleep=lambda _: None).publish(generate_messages(600, 50, seed=3, now=0.0))
    assert client.calls == [500, 2, 100]
    assert report.sent == 600 and report.resent_entries == 2
