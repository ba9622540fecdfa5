"""Typed models of the pipeline: the risk message on the stream and what the stages decide about it.

The wire contract (one JSON object per Kinesis record), as the DynamoDB event-driven workshop sends it:

    {"TradeID": "T-1", "Value": 34624.51, "Version": 0, "Timestamp": 1700000000.5,
     "Hierarchy": {"RiskType": "Delta", "Region": "EMEA", "TradeDesk": "FXSpot"}}

Numbers are decoded as exact ``Decimal`` (never binary floats), because DynamoDB stores numbers exactly
and the aggregates must add up to the cent.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from riskpipe.identifiers import HIERARCHY_LEVELS, RESERVED_IDENTIFIERS, RESERVED_PREFIXES
from riskpipe.numbers import DYNAMODB_MAX_DIGITS, TOO_MANY_DIGITS, dynamodb_number_problem, risk_value_problem

# A hierarchy label becomes part of an aggregate's Identifier, where the levels are joined with ':'. Labels are
# restricted to these characters, so that two different hierarchies can never write the same Identifier.
LABEL_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
LABEL_CHARACTERS = "1 to 64 of A-Z a-z 0-9 _ . -"
# A message is a few hundred bytes; the StateTable item must stay far below DynamoDB's 400 KB.
MAX_MESSAGE_BYTES = 16 * 1024


class PoisonRecordError(ValueError):
    """A record that can never be processed, whatever the number of retries.

    Its ``reason`` is a short human sentence that ends up in the poison-record queue.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _exact_number(value: Any) -> Any:
    """Accept JSON numbers only (no bool, no string), finite, that fit a DynamoDB number."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError(f"must be a JSON number, got {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError("must be finite")
    problem = dynamodb_number_problem(number)
    if problem == TOO_MANY_DIGITS:
        raise ValueError(f"has more than {DYNAMODB_MAX_DIGITS} significant digits")
    if problem is not None:
        raise ValueError("is outside the range DynamoDB can store (1E-130 to 9.99E+125)")
    return number


def _risk_value(value: Decimal) -> Decimal:
    """Bounded in magnitude and decimal places, so that any sum of the StateTable's values fits DynamoDB."""
    problem = risk_value_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _safe_label(value: str) -> str:
    if not LABEL_PATTERN.fullmatch(value):
        raise ValueError(f"must be {LABEL_CHARACTERS} (no ':', which joins the levels of an Identifier)")
    if value in RESERVED_IDENTIFIERS or value.startswith(RESERVED_PREFIXES):
        raise ValueError("is reserved: the AggregateTable keeps message_count and timestamp_* items of its own")
    return value


def _whole_number(value: Any) -> Any:
    """Accept JSON integers only: ``1.0``, ``true`` and ``"1"`` are all rejected."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a JSON integer, got {type(value).__name__}")
    if len(str(abs(value))) > DYNAMODB_MAX_DIGITS:
        raise ValueError(f"has more than {DYNAMODB_MAX_DIGITS} digits")
    return value


ExactNumber = Annotated[Decimal, BeforeValidator(_exact_number)]
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
RiskValue = Annotated[Decimal, BeforeValidator(_exact_number), AfterValidator(_risk_value)]
Label = Annotated[str, Field(min_length=1, max_length=256, strict=True)]
HierarchyLabel = Annotated[str, Field(strict=True), AfterValidator(_safe_label)]


class Hierarchy(BaseModel):
    """Where a trade's risk is booked; each level is one step of the aggregation tree."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    RiskType: HierarchyLabel
    Region: HierarchyLabel
    TradeDesk: HierarchyLabel

    def level(self, name: str) -> str:
        return str(getattr(self, name))

    def as_json(self) -> str:
        """The workshop's StateTable representation: a JSON string with sorted keys."""
        return json.dumps(self.model_dump(), sort_keys=True, separators=(", ", ": "))

    @classmethod
    def from_json(cls, text: str) -> Hierarchy:
        return cls.model_validate(json.loads(text))


if set(Hierarchy.model_fields) != set(HIERARCHY_LEVELS):
    raise TypeError(f"Hierarchy's fields {tuple(Hierarchy.model_fields)} are not identifiers.HIERARCHY_LEVELS")


class RiskMessage(BaseModel):
    """One versioned risk message. The highest ``Version`` of a ``TradeID`` is the truth."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TradeID: Label
    Value: RiskValue
    Version: Annotated[WholeNumber, Field(ge=0)]
    Timestamp: ExactNumber
    Hierarchy: Hierarchy

    def to_wire(self) -> bytes:
        """Serialise for the stream, writing the Decimals as exact JSON numbers (never through float)."""
        hierarchy = json.dumps(self.Hierarchy.model_dump(), separators=(",", ":"))
        return (
            f'{{"TradeID":{json.dumps(self.TradeID)},"Value":{_json_number(self.Value)},'
            f'"Version":{self.Version},"Timestamp":{_json_number(self.Timestamp)},"Hierarchy":{hierarchy}}}'
        ).encode()


def _json_number(value: Decimal) -> str:
    return format(value, "f")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def decode_risk_message(data: bytes) -> RiskMessage:
    """Decode one record's bytes into a ``RiskMessage``, or raise ``PoisonRecordError`` with a clear reason."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise PoisonRecordError(f"record data is {len(data)} bytes, more than the {MAX_MESSAGE_BYTES} allowed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PoisonRecordError(f"record data is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        payload = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, InvalidOperation) as exc:
        raise PoisonRecordError(f"record data is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PoisonRecordError(f"record data must be a JSON object, got a JSON {type(payload).__name__}")
    try:
        return RiskMessage.model_validate(payload)
    except ValidationError as exc:
        raise PoisonRecordError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "message"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is missing"
        elif error["type"] == "extra_forbidden":
            message = "is not a known field"
        parts.append(f"{where} {message}")
    return "invalid risk message: " + "; ".join(parts)


class WriteOutcome(StrEnum):
    """What the StateLambda decided about one record."""

    ACCEPTED = "accepted"  # it is now the newest version of its trade
    DUPLICATE = "duplicate"  # that exact version is already stored
    STALE = "stale"  # a newer version is already stored (or arrived in the same batch)
    POISON = "poison"  # it can never be processed; it went to the poison-record queue


@dataclass(frozen=True)
class StoredVersion:
    """The result of one conditional write: the outcome and the version the table holds afterwards."""

    outcome: WriteOutcome
    stored_version: int


class PoisonRecord(BaseModel):
    """Everything needed to find, understand and replay a poison record."""

    # Built on first use: only the StateLambda sends one, and only when a record is poison.
    model_config = ConfigDict(frozen=True, defer_build=True)

    reason: str
    data_base64: str
    shard_id: str
    sequence_number: str
    partition_key: str
    event_source_arn: str
    approximate_arrival_timestamp: float | None = None

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.data_base64)
