"""The producer: the workshop's burst shape, generated versions, and no entry lost when PutRecords fails some."""

from riskpipe.producer import KinesisPublisher, generate_messages, workshop_calls


def test_given_the_workshop_profile_when_generated_then_it_has_its_calls_copies_and_revisions():
    calls = workshop_calls(seed=1, now=0.0)
    assert len(calls) == 250 and all(len(call) == 45 for call in calls)
    assert all(len(set(call)) <= 40 for call in calls)  # 5 exact copies in each call
    versions = [m.Version for call in calls for m in call]
    assert 0 < versions.count(1) < 0.05 * len(versions)


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
