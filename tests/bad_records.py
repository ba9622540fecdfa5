"""Malformed records, each with the reason the StateLambda must give: one table for the unit tests of
decoding, the integration test through the real handler and the property tests that mix them in."""

import json

from riskpipe.models import MAX_MESSAGE_BYTES

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
