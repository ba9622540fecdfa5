"""The workshop generator's traffic, as its GeneratorLambdaPackage sends it (see field-facts): calls of 40, 5 exact
copies in each, about 3% revisions with new content, a trade at Version 0 revised to 1 and a trade past 0 sent an
older version, and a partition key that is the SHA-256 of the whole message."""

import hashlib
from collections import Counter

from riskpipe.producer import content_partition_key, workshop_calls
from riskpipe.versions import newest_per_trade


def test_given_lab_2_when_generated_then_each_call_is_35_messages_and_5_copies_of_them():
    calls = workshop_calls(seed=1, now=0.0)
    assert len(calls) == 250 and all(len(call) == 40 for call in calls)
    for call in calls:
        assert all(copy in call[:35] for copy in call[35:])


def test_given_lab_2_when_generated_then_about_3_percent_revise_a_trade_with_new_content():
    calls = workshop_calls(seed=2, now=0.0)
    generated = [m for call in calls for m in call[:35]]
    by_trade: dict[str, list] = {}
    for message in generated:
        by_trade.setdefault(message.TradeID, []).append(message)
    revisions = [versions[1:] for versions in by_trade.values() if len(versions) > 1]
    count = sum(len(r) for r in revisions)
    assert 0.02 * len(generated) < count < 0.04 * len(generated)
    # Then every revision carries new content, a trade's first revision is Version 1, later ones Version 0
    for versions in by_trade.values():
        assert [m.Version for m in versions] == [0] + [1] + [0] * (len(versions) - 2) if len(versions) > 1 else True
        assert len({(m.Value, m.Hierarchy) for m in versions}) == len(versions)


def test_given_lab_2_when_totals_are_taken_then_the_newest_version_of_a_trade_can_sit_in_another_aggregate():
    calls = workshop_calls(seed=3, now=0.0)
    sent = [m for call in calls for m in call]
    newest = newest_per_trade(sent)
    first = {m.TradeID: m for m in reversed(sent) if m.Version == 0}
    moved = [t for t, m in newest.items() if m.Version == 1 and m.Hierarchy != first[t].Hierarchy]
    assert moved  # a revision moves its trade between aggregates


def test_given_lab_1_when_generated_then_every_message_is_a_new_trade():
    calls = workshop_calls(seed=4, now=0.0, special_trades=False)
    sent = [m for call in calls for m in call]
    assert len(sent) == 10_000 and len({m.TradeID for m in sent}) == 10_000
    assert {m.Version for m in sent} == {0}


def test_given_a_message_when_keyed_as_the_workshop_does_then_the_key_is_the_sha256_of_its_data():
    calls = workshop_calls(seed=5, now=0.0)
    message = calls[0][0]
    assert content_partition_key(message) == hashlib.sha256(message.to_wire()).hexdigest()
    keys = Counter(content_partition_key(m) for call in calls for m in call if m.TradeID == message.TradeID)
    assert len(keys) >= 1
    revised = [m for call in calls for m in call if m.Version == 1]
    original = {m.TradeID: m for call in calls for m in call if m.Version == 0}
    assert any(content_partition_key(m) != content_partition_key(original[m.TradeID]) for m in revised)
