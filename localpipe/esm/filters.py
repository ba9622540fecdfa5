"""Lambda event filtering (``FilterCriteria``) as the local mappings apply it: records matching no pattern are
dropped before any invocation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

_MISSING = object()


def matches_filter(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Lambda event filtering: every key of the pattern must match; a list holds the allowed values."""
    return all(_matches_key(key, rule, record.get(key, _MISSING)) for key, rule in pattern.items())


def _matches_key(key: str, rule: Any, value: Any) -> bool:
    if isinstance(rule, Mapping):
        return isinstance(value, Mapping) and matches_filter(rule, value)
    if isinstance(rule, list):
        return any(_matches_rule(r, value) for r in rule)
    raise ValueError(f"filter rule for {key!r} must be an object or a list, got {rule!r}")


def _matches_rule(rule: Any, value: Any) -> bool:
    if not isinstance(rule, Mapping):
        return bool(value == rule)
    operator = next((name for name in _OPERATORS if name in rule), None)
    if operator is None:
        raise ValueError(f"filter operator not supported locally: {dict(rule)}")
    return _OPERATORS[operator](rule[operator], value)


def _anything_but(excluded: Any, value: Any) -> bool:
    return value is not _MISSING and value not in (excluded if isinstance(excluded, list) else [excluded])


# The operators of a rule (an object), in the order a rule is matched against them.
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "prefix": lambda prefix, value: isinstance(value, str) and value.startswith(prefix),
    "exists": lambda exists, value: (value is not _MISSING) is bool(exists),
    "anything-but": _anything_but,
}


def filterable(record: Mapping[str, Any]) -> dict[str, Any]:
    """Kinesis filters see the data decoded as JSON, as Lambda does."""
    if "kinesis" not in record:
        return dict(record)
    try:
        data = json.loads(base64.b64decode(record["kinesis"]["data"]))
    except ValueError:
        data = _MISSING
    return {**record, "data": data} if data is not _MISSING else dict(record)
