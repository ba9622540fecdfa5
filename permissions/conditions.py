"""IAM's condition operators, as AWS's documentation states them (IAM User Guide, "IAM JSON policy elements:
Condition operators" and "Single-valued vs. multivalued context keys"):

* a condition block is met when every operator in it is met, an operator when every key under it is met;
* several values for one key: any of them (OR) for a positive operator, none of them (NOR) for a negated one
  (``StringNotEquals``, ``StringNotLike``, ``ArnNotEquals``, ``ArnNotLike``, ``NotIpAddress``, ...);
* a key absent from the request: the condition is false, except that a negated operator is then true ("If the
  policy condition requires that the key is not matched, such as StringNotLike or ArnNotLike, and the right key is
  not present, the condition is true"), ``...IfExists`` is then true, and ``Null`` tests exactly that;
* ``ForAnyValue:``: at least one request value matches (false when the key is absent); ``ForAllValues:``: every
  request value matches (true when the key is absent or has no value);
* condition keys are case-insensitive, values case-sensitive (except ``...IgnoreCase``);
* ``StringLike`` and ``ArnLike`` take ``*`` (any run of characters) and ``?`` (one character); ``ArnEquals`` and
  ``ArnLike`` compare the six colon-separated parts of an ARN one by one, each with those wildcards.

An operator this module does not know is refused (``UnknownOperator``): a check that guessed would prove nothing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

Context = Mapping[str, Sequence[str]]  # condition key (lower case) -> the request's values


class UnknownOperator(ValueError):
    """A condition operator the evaluator does not implement."""


@lru_cache(maxsize=4096)
def _wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """``*`` and ``?`` wildcards over the whole value (as the Action and Resource elements match)."""
    return _wildcard(pattern, ignore_case=ignore_case).fullmatch(value) is not None


def _arn_like(pattern: str, value: str) -> bool:
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return pattern == value
    return all(wildcard_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _date(text: str) -> datetime | None:
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text))
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _compare[T](parse: Callable[[str], T | None], test: Callable[[T, T], bool]) -> Callable[[str, str], bool]:
    def compare(policy: str, request: str) -> bool:
        left, right = parse(request), parse(policy)
        return left is not None and right is not None and test(left, right)

    return compare


def _ip(policy: str, request: str) -> bool:
    try:
        return ipaddress.ip_address(request) in ipaddress.ip_network(policy, strict=False)
    except ValueError:
        return False


# Each base operator: (does one policy value match one request value, is the operator negated).
_BASE: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "stringequals": (lambda p, r: p == r, False),
    "stringnotequals": (lambda p, r: p == r, True),
    "stringequalsignorecase": (lambda p, r: p.lower() == r.lower(), False),
    "stringnotequalsignorecase": (lambda p, r: p.lower() == r.lower(), True),
    "stringlike": (lambda p, r: wildcard_match(p, r), False),
    "stringnotlike": (lambda p, r: wildcard_match(p, r), True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
    "numericequals": (_compare(_number, lambda r, p: r == p), False),
    "numericnotequals": (_compare(_number, lambda r, p: r == p), True),
    "numericlessthan": (_compare(_number, lambda r, p: r < p), False),
    "numericlessthanequals": (_compare(_number, lambda r, p: r <= p), False),
    "numericgreaterthan": (_compare(_number, lambda r, p: r > p), False),
    "numericgreaterthanequals": (_compare(_number, lambda r, p: r >= p), False),
    "dateequals": (_compare(_date, lambda r, p: r == p), False),
    "datenotequals": (_compare(_date, lambda r, p: r == p), True),
    "datelessthan": (_compare(_date, lambda r, p: r < p), False),
    "datelessthanequals": (_compare(_date, lambda r, p: r <= p), False),
    "dategreaterthan": (_compare(_date, lambda r, p: r > p), False),
    "dategreaterthanequals": (_compare(_date, lambda r, p: r >= p), False),
    "bool": (lambda p, r: p.lower() == r.lower(), False),
    "ipaddress": (_ip, False),
    "notipaddress": (_ip, True),
}


def _values(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in items]


def _parse(operator: str) -> tuple[str, str, bool]:
    """(set qualifier or "", base operator in lower case, ...IfExists)."""
    set_kind, _, name = operator.rpartition(":")
    if set_kind not in ("", "ForAnyValue", "ForAllValues"):
        raise UnknownOperator(operator)
    lowered = name.lower()
    base = lowered.removesuffix("ifexists")
    if base != "null" and base not in _BASE:
        raise UnknownOperator(operator)
    return set_kind, base, lowered.endswith("ifexists")


def operator_met(operator: str, key: str, policy_value: object, context: Context) -> bool:
    """One operator on one key: is it met by the request ``context``?"""
    set_kind, base, if_exists = _parse(operator)
    policy_values = _values(policy_value)
    request_values = list(context.get(key.lower(), ()))
    if base == "null":
        absent = not request_values
        return any(absent == (p.lower() == "true") for p in policy_values)
    match, negated = _BASE[base]

    def one(request: str) -> bool:
        hit = any(match(p, request) for p in policy_values)
        return not hit if negated else hit

    if set_kind == "ForAllValues":
        return all(one(r) for r in request_values)
    if set_kind == "ForAnyValue":
        return any(one(r) for r in request_values)
    if not request_values:
        return if_exists or negated
    return any(one(r) for r in request_values)


def conditions_met(block: Mapping[str, Mapping[str, object]], context: Context) -> bool:
    """A statement's whole Condition element: every operator, every key."""
    return all(
        operator_met(operator, key, value, context) for operator, keys in block.items() for key, value in keys.items()
    )


def condition_keys(block: Mapping[str, Mapping[str, object]]) -> set[str]:
    return {key.lower() for keys in block.values() for key in keys}
