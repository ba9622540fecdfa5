"""Malformed records, each with the reason the StateLambda must give: one table for the unit tests of
decoding, the integration test through the real handler and the property tests that mix them in."""

import json

from riskpipe.models import MAX_MESSAGE_BYTES
from riskpipe.numbers import VALUE_MAX_DECIMAL_PLACES

LABEL_RULE = "must be 1 to 64 of A-Z a-z 0-9 _ . - (no ':'"
MAGNITUDE_RULE = "Value must be below 1E+18 in magnitude, so that the sums fit DynamoDB's numbers"
PLACES_RULE = f"Value has more than {VALUE_MAX_DECIMAL_PLACES} decimal places, so that the sums fit DynamoDB's numbers"

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


def with_level(name: str, label: object) -> bytes:
    return with_field("Hierarchy", {**VALID["Hierarchy"], name: label})


def raw_value(number: str) -> bytes:
    """A record whose Value is this JSON number literally (json.dumps would go through a float)."""
    return encode({**VALID, "Value": 0}).replace(b'"Value": 0', f'"Value": {number}'.encode())


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
    # The numeric domain: any sum of the StateTable's values must fit DynamoDB's 38 digits (riskpipe/numbers.py).
    "Value 1E+37 (a sum with 0.01 needs 40 digits)": (raw_value("1E+37"), MAGNITUDE_RULE),
    "Value 1E+18": (raw_value("1000000000000000000"), MAGNITUDE_RULE),
    "Value -1E+18": (raw_value("-1000000000000000000.0"), MAGNITUDE_RULE),
    "Value near 9.9E+125 (two overflow the range)": (raw_value("9.9E+125"), MAGNITUDE_RULE),
    "Value 7 decimal places": (raw_value("0.0000001"), PLACES_RULE),
    "Value 1E-130 (stores, but a sum with 1 needs 131 digits)": (raw_value("1E-130"), PLACES_RULE),
    # Hierarchy labels are joined with ':' into Identifiers: {Delta:FX, Spot} and {Delta, FX:Spot} would merge.
    "RiskType with ':'": (with_level("RiskType", "Delta:FX"), f"Hierarchy.RiskType {LABEL_RULE}"),
    "TradeDesk with ':'": (with_level("TradeDesk", "FX:Spot"), f"Hierarchy.TradeDesk {LABEL_RULE}"),
    "Region with a space": (with_level("Region", "North America"), f"Hierarchy.Region {LABEL_RULE}"),
    "Region not ASCII": (with_level("Region", "Zürich"), f"Hierarchy.Region {LABEL_RULE}"),
    "empty TradeDesk": (with_level("TradeDesk", ""), f"Hierarchy.TradeDesk {LABEL_RULE}"),
    "label of 65 characters": (with_level("TradeDesk", "D" * 65), f"Hierarchy.TradeDesk {LABEL_RULE}"),
    "numeric label": (with_level("Region", 7), "Hierarchy.Region Input should be a valid string"),
    "RiskType message_count": (with_level("RiskType", "message_count"), "Hierarchy.RiskType is reserved"),
    "RiskType timestamp_*": (with_level("RiskType", "timestamp_generator_first"), "Hierarchy.RiskType is reserved"),
    "Timestamp null": (with_field("Timestamp", None), "Timestamp must be a JSON number, got NoneType"),
    "unknown field": (with_field("Extra", 1), "Extra is not a known field"),
    "unknown hierarchy level": (
        with_field("Hierarchy", {**VALID["Hierarchy"], "Book": "X"}),
        "Hierarchy.Book is not a known field",
    ),
    "non-UTF-8": (b'{"TradeID": "\xff"}', "not UTF-8"),
    "oversized": (b" " * (MAX_MESSAGE_BYTES + 1), f"more than the {MAX_MESSAGE_BYTES} allowed"),
}
