"""Decoding a record's bytes: a valid message is exact; anything else is poison with a clear reason."""

import json
from decimal import Decimal

import pytest

from riskpipe.models import MAX_MESSAGE_BYTES, Hierarchy, PoisonRecordError, RiskMessage, decode_risk_message

VALID = {
    "TradeID": "T-1",
    "Value": 34624.51,
    "Version": 0,
    "Timestamp": 1700000000.25,
    "Hierarchy": {"RiskType": "Delta", "Region": "EMEA", "TradeDesk": "FXSpot"},
}


def encode(payload: object) -> bytes:
    return json.dumps(payload).encode()


def with_field(name: str, value: object) -> bytes:
    return encode({**VALID, name: value})


def without(name: str) -> bytes:
    return encode({k: v for k, v in VALID.items() if k != name})


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


BAD_RECORDS = {
    "not json": (b"{not json", "not valid JSON"),
    "json array": (b"[1, 2]", "must be a JSON object, got a JSON list"),
    "json string": (b'"hello"', "must be a JSON object, got a JSON str"),
    "missing TradeID": (without("TradeID"), "TradeID is missing"),
    "missing Value": (without("Value"), "Value is missing"),
    "missing Version": (without("Version"), "Version is missing"),
    "missing Timestamp": (without("Timestamp"), "Timestamp is missing"),
    "missing Hierarchy": (without("Hierarchy"), "Hierarchy is missing"),
    "missing Region": (
        with_field("Hierarchy", {"RiskType": "PV", "TradeDesk": "FXSpot"}),
        "Hierarchy.Region is missing",
    ),
    "empty TradeID": (with_field("TradeID", ""), "TradeID String should have at least 1 character"),
    "numeric TradeID": (with_field("TradeID", 12), "TradeID Input should be a valid string"),
    "Version negative": (with_field("Version", -1), "Version Input should be greater than or equal to 0"),
    "Version float": (with_field("Version", 1.5), "Version must be a JSON integer"),
    "Version 1.0": (with_field("Version", 1.0), "Version must be a JSON integer"),
    "Version boolean": (with_field("Version", True), "Version must be a JSON integer, got bool"),
    "Version string": (with_field("Version", "3"), "Version must be a JSON integer, got str"),
    "Version 39 digits": (with_field("Version", 10**38), "Version has more than 38 digits"),
    "Value string": (with_field("Value", "12.5"), "Value must be a JSON number, got str"),
    "Value boolean": (with_field("Value", False), "Value must be a JSON number, got bool"),
    "Value NaN": (b'{"TradeID":"T","Value":NaN,"Version":0,"Timestamp":1,"Hierarchy":{}}', "NaN is not a number"),
    "Value Infinity": (b'{"TradeID":"T","Value":Infinity,"Version":0,"Timestamp":1,"Hierarchy":{}}', "Infinity"),
    "Value 39 digits": (with_field("Value", 10**39 + 1), "Value has more than 38 significant digits"),
    "Timestamp null": (with_field("Timestamp", None), "Timestamp must be a JSON number, got NoneType"),
    "unknown field": (with_field("Extra", 1), "Extra is not a known field"),
    "unknown hierarchy level": (
        with_field("Hierarchy", {**VALID["Hierarchy"], "Book": "X"}),
        "Hierarchy.Book is not a known field",
    ),
    "non-UTF-8": (b'{"TradeID": "\xff"}', "not UTF-8"),
    "oversized": (b" " * (MAX_MESSAGE_BYTES + 1), f"more than the {MAX_MESSAGE_BYTES} allowed"),
}


@pytest.mark.parametrize(("data", "reason"), BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_given_a_malformed_record_when_decoded_then_it_is_poison_with_a_clear_reason(data, reason):
    with pytest.raises(PoisonRecordError) as raised:
        decode_risk_message(data)
    assert reason in raised.value.reason


def test_given_a_valid_message_when_built_in_code_then_the_same_rules_apply():
    with pytest.raises(ValueError):
        RiskMessage.model_validate({**VALID, "Value": Decimal("NaN")})


def test_given_a_value_with_38_significant_digits_when_decoded_then_it_is_kept_exactly():
    value = "1234567890123456789012345678901234567.8"
    message = decode_risk_message(with_field("Value", 0).replace(b'"Value": 0', f'"Value": {value}'.encode()))
    assert str(message.Value) == value


def test_given_a_value_beyond_dynamodbs_range_when_decoded_then_it_is_poison():
    with pytest.raises(PoisonRecordError, match="outside the range"):
        decode_risk_message(with_field("Value", 0).replace(b'"Value": 0', b'"Value": 1E+200'))
