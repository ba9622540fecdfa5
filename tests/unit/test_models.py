"""Decoding a record's bytes: a valid message is exact; anything else is poison with a clear reason."""

from decimal import Decimal

import pytest

from riskpipe.models import Hierarchy, PoisonRecordError, RiskMessage, decode_risk_message
from tests.bad_records import BAD_RECORDS, VALID, encode, raw_value, with_field, with_level


def test_given_a_workshop_message_when_decoded_then_numbers_are_exact_decimals():
    message = decode_risk_message(encode(VALID))
    assert message.Value == Decimal("34624.51")
    assert message.Timestamp == Decimal("1700000000.25")
    assert message.Version == 0
    assert message.Hierarchy.RiskType == "Delta"


def test_given_a_message_when_written_to_the_wire_and_read_back_then_it_is_unchanged():
    message = decode_risk_message(encode(VALID))
    assert decode_risk_message(message.to_wire()) == message
    assert b"34624.51" in message.to_wire()


def test_given_a_hierarchy_when_stored_then_it_is_json_with_sorted_keys():
    hierarchy = Hierarchy(RiskType="PV", Region="APAC", TradeDesk="FXOptions")
    assert hierarchy.as_json() == '{"Region": "APAC", "RiskType": "PV", "TradeDesk": "FXOptions"}'
    assert Hierarchy.from_json(hierarchy.as_json()) == hierarchy


@pytest.mark.parametrize(("data", "reason"), BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_given_a_malformed_record_when_decoded_then_it_is_poison_with_a_clear_reason(data, reason):
    with pytest.raises(PoisonRecordError) as raised:
        decode_risk_message(data)
    assert reason in raised.value.reason


def test_given_a_valid_message_when_built_in_code_then_the_same_rules_apply():
    with pytest.raises(ValueError):
        RiskMessage.model_validate({**VALID, "Value": Decimal("NaN")})


def test_given_a_timestamp_with_38_significant_digits_when_decoded_then_it_is_kept_exactly():
    timestamp = "1700000000.1234567890123456789012345678"
    message = decode_risk_message(
        encode({**VALID, "Timestamp": 0}).replace(b'"Timestamp": 0', f'"Timestamp": {timestamp}'.encode())
    )
    assert str(message.Timestamp) == timestamp


@pytest.mark.parametrize(
    "value", ["999999999999999999.999999", "-999999999999999999.999999", "0.000001", "1.5000000000"]
)
def test_given_a_value_at_the_edge_of_the_domain_when_decoded_then_it_is_kept_exactly(value):
    assert decode_risk_message(raw_value(value)).Value == Decimal(value)


@pytest.mark.parametrize("label", ["FXSpot", "Rates_EUR-2", "v1.2", "A" * 64])
def test_given_a_label_of_the_safe_characters_when_decoded_then_it_is_accepted(label):
    assert decode_risk_message(with_level("TradeDesk", label)).Hierarchy.TradeDesk == label


def test_given_a_value_beyond_dynamodbs_range_when_decoded_then_it_is_poison():
    with pytest.raises(PoisonRecordError, match="outside the range"):
        decode_risk_message(with_field("Value", 0).replace(b'"Value": 0', b'"Value": 1E+200'))
